package dev.llmplatform.engine.runtime;

import dev.llmplatform.engine.arch.Batch;
import dev.llmplatform.engine.arch.ModelRunner;
import dev.llmplatform.engine.cpu.KvBlockPool;
import dev.llmplatform.engine.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * In-flight batching over a paged KV cache: requests join and leave the running batch at every step, and one
 * forward pass computes all of their tokens together.
 *
 * <p>One thread runs the loop {@code schedule -> forward -> update}, as vLLM's engine core does:
 * <ul>
 *   <li>schedule: running sequences that decode get one token each first, then running prompts get chunks, then
 *       waiting requests are admitted, all within {@link RuntimeConfig#maxTokensPerStep()}. KV blocks are reserved
 *       here; when the pool is exhausted, the lowest-priority, latest-arrived running sequence is preempted (its
 *       blocks freed, to be recomputed later).</li>
 *   <li>forward: the model computes the step's tokens as one {@link Batch}.</li>
 *   <li>update: full blocks enter the prefix cache; sequences that reached their last position sample a token,
 *       emit it, and finish on a stop token, a stop string, the token limit or the context length.</li>
 * </ul>
 * Submissions and cancellations come from any thread; events are delivered on the runtime's thread, so listeners
 * must be quick (hand the event to another thread or a reactive sink).
 */
public final class EngineRuntime implements AutoCloseable {
    private static final Comparator<Sequence> BY_PRIORITY = Comparator.comparingInt(Sequence::priority)
            .thenComparingLong(s -> s.arrival);

    private final ModelRunner model;
    private final Tokenizer tokenizer;
    private final RuntimeConfig config;
    private final KvBlockPool pool;
    private final Thread thread;
    private final ConcurrentLinkedQueue<Sequence> incoming = new ConcurrentLinkedQueue<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final AtomicLong ids = new AtomicLong();
    private volatile boolean closed;

    // Scheduler-thread state.
    private final PriorityQueue<Sequence> waiting = new PriorityQueue<>(BY_PRIORITY);
    private final List<Sequence> running = new ArrayList<>();
    private final List<Sequence> planned = new ArrayList<>();
    private int[] plannedTokens = new int[16];
    private final Batch batch = new Batch(64);
    private float[] logits = new float[0];
    private float[] rawRow = new float[0];
    private int[] greedyIds = new int[0];
    private SamplingRow[] sampleRows = new SamplingRow[0];
    private final SamplingRule hostRule = new SamplingRule();
    private final Logprobs logprobs;
    private final EnergyMeter energyMeter;

    // Counters, written by the scheduler thread, read by stats().
    private volatile long promptTokens;
    private volatile long cachedPromptTokens;
    private volatile long generatedTokens;
    private volatile long preemptions;
    private volatile long steps;
    private volatile int lastBatchTokens;
    private volatile int lastBatchSequences;
    private volatile long finished;
    private volatile long cancelled;
    private volatile int runningCount;
    private volatile int poolUsed;
    private volatile int poolIdle;
    // Energy over forward passes (written by the scheduler thread; published together through energyStats).
    private double energyJoules;
    private double energySeconds;
    private long energyTokens;
    private long energyGenerated;
    private volatile EnergyStats energyStats;

    /**
     * A runtime that meters energy when the model runner can ({@link EnergyMetered}, e.g. a GPU runner with NVML).
     *
     * @param tokenizer for text deltas and stop strings; may be null (events then carry no text)
     */
    public EngineRuntime(ModelRunner model, Tokenizer tokenizer, RuntimeConfig config) {
        this(model, tokenizer, config, model instanceof EnergyMetered m ? m.energyMeter().orElse(null) : null);
    }

    /**
     * @param tokenizer   for text deltas and stop strings; may be null (events then carry no text)
     * @param energyMeter read around every forward pass to charge its energy to the sequences in it; null: none
     */
    public EngineRuntime(ModelRunner model, Tokenizer tokenizer, RuntimeConfig config, EnergyMeter energyMeter) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.config = config;
        this.pool = model.newKvPool(config.kvBlockSize(), config.kvCacheBlocks());
        this.logprobs = new Logprobs(model.vocabSize());
        this.energyMeter = energyMeter;
        if (energyMeter != null) {
            energyStats = new EnergyStats(0, 0, 0, 0, energyMeter.describe());
        }
        this.thread = Thread.ofPlatform().name("engine-runtime").daemon().start(this::loop);
    }

    public RuntimeConfig config() {
        return config;
    }

    public ModelRunner model() {
        return model;
    }

    /** Submits with events kept in the handle's queue. */
    public RequestHandle submit(GenerationRequest request) {
        return submit(request, null);
    }

    /**
     * Submits a request; events go to {@code listener} on the runtime's thread.
     *
     * @throws QueueFullException       when the waiting queue is full
     * @throws IllegalArgumentException when the request can never run (ids outside the vocabulary, a prompt that
     *                                  fills the context, more KV memory than the pool has, stop strings without a
     *                                  tokenizer)
     * @throws IllegalStateException    after {@link #close()}
     */
    public RequestHandle submit(GenerationRequest request, Consumer<GenerationEvent> listener) {
        if (closed) {
            throw new IllegalStateException("the runtime is closed");
        }
        validate(request);
        if (queued.incrementAndGet() > config.maxWaiting()) {
            queued.decrementAndGet();
            throw new QueueFullException(config.maxWaiting());
        }
        RequestHandle handle = new RequestHandle(ids.incrementAndGet(), listener, this::wake);
        Sequence seq = new Sequence(handle.id(), request, handle, model.contextLength(), model.newCache(pool),
                model.vocabSize(), tokenizer == null ? null : tokenizer.newStreamingDetokenizer(true));
        incoming.add(seq);
        wake();
        return handle;
    }

    private void validate(GenerationRequest r) {
        int vocab = model.vocabSize();
        for (int id : r.promptIds()) {
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("prompt token id " + id + " is outside the vocabulary (ids 0.." + (vocab - 1) + ")");
            }
        }
        for (int id : r.sampling().logitBias().keySet()) {
            if (id >= vocab) {
                throw new IllegalArgumentException("logit_bias names token id " + id + ", outside the vocabulary (ids 0.." + (vocab - 1) + ")");
            }
        }
        int context = model.contextLength();
        if (r.promptIds().length >= context) {
            throw new IllegalArgumentException("the prompt has " + r.promptIds().length + " tokens, but the context is "
                    + context + " tokens (prompt + at least one generated token must fit)");
        }
        int maxLength = Math.min(context, r.promptIds().length + r.stop().maxTokens());
        int blocks = (maxLength + config.kvBlockSize() - 1) / config.kvBlockSize();
        if (blocks > pool.capacityBlocks()) {
            throw new IllegalArgumentException("the request needs up to " + maxLength + " positions of KV cache ("
                    + blocks + " blocks), but the cache holds " + pool.capacityBlocks() + " blocks");
        }
        if (!r.stop().stopStrings().isEmpty() && tokenizer == null) {
            throw new IllegalArgumentException("stop strings need a tokenizer, and this model has none");
        }
    }

    public RuntimeStats stats() {
        return new RuntimeStats(runningCount, queued.get() - runningCount, pool.capacityBlocks(), poolUsed, poolIdle,
                promptTokens, cachedPromptTokens, generatedTokens, preemptions, steps, lastBatchTokens,
                lastBatchSequences, finished, cancelled);
    }

    /** Energy measured over the forward passes so far; empty when the runtime has no {@link EnergyMeter}. */
    public Optional<EnergyStats> energy() {
        return Optional.ofNullable(energyStats);
    }

    private void wake() {
        LockSupport.unpark(thread);
    }

    private void loop() {
        while (!closed) {
            try {
                drainIncoming();
                reapCancelled();
                if (running.isEmpty() && waiting.isEmpty()) {
                    publishGauges();
                    if (incoming.isEmpty() && !closed) {
                        LockSupport.park(this);
                    }
                    continue;
                }
                step();
            } catch (RuntimeException | Error e) {
                // A bug in scheduling must not leave requests hanging: fail what is in flight and go on.
                for (Sequence s : new ArrayList<>(running)) {
                    finish(s, FinishReason.ERROR, "", "internal error: " + e);
                }
                planned.clear();
            }
        }
        for (Sequence s : new ArrayList<>(running)) {
            finish(s, FinishReason.CANCELLED, "", "the runtime was closed");
        }
        drainIncoming();
        while (!waiting.isEmpty()) {
            finish(waiting.poll(), FinishReason.CANCELLED, "", "the runtime was closed");
        }
    }

    private void drainIncoming() {
        Sequence s;
        while ((s = incoming.poll()) != null) {
            waiting.add(s);
        }
    }

    private void reapCancelled() {
        for (int i = running.size() - 1; i >= 0; i--) {
            Sequence s = running.get(i);
            if (s.handle.cancelRequested()) {
                finish(s, FinishReason.CANCELLED, "", null);
            }
        }
        if (!waiting.isEmpty()) {
            List<Sequence> gone = null;
            for (Sequence s : waiting) {
                if (s.handle.cancelRequested()) {
                    (gone == null ? gone = new ArrayList<>() : gone).add(s);
                }
            }
            if (gone != null) {
                for (Sequence s : gone) {
                    waiting.remove(s);
                    finish(s, FinishReason.CANCELLED, "", null);
                }
            }
        }
    }

    private void step() {
        schedule();
        if (planned.isEmpty()) {
            publishGauges();
            LockSupport.parkNanos(this, 1_000_000); // nothing fits right now; cancellations or completions will change that
            return;
        }
        batch.clear();
        int rows = 0;
        for (int i = 0; i < planned.size(); i++) {
            Sequence s = planned.get(i);
            int n = plannedTokens[i];
            for (int p = s.computed; p < s.computed + n; p++) {
                boolean last = p == s.length - 1;
                batch.add(s.tokens[p], p, s.cache, last);
                if (last) {
                    rows++;
                }
            }
        }
        int vocab = model.vocabSize();
        if (logits.length < rows * vocab) {
            logits = new float[Math.max(rows, config.maxRunning()) * vocab];
        }
        // Who picks the tokens: the runner's argmax when every row is plain greedy; the runner's sampler (same rule as
        // the host's, see SamplingRule) when no row needs the host; otherwise the host, from the whole logits rows.
        boolean greedyStep = rows > 0 && allPlainGreedy();
        boolean sampledStep = rows > 0 && !greedyStep && allDeviceSamplable();
        boolean runnerPicks = greedyStep || sampledStep;
        if (runnerPicks && greedyIds.length < rows) {
            greedyIds = new int[Math.max(rows, config.maxRunning())];
        }
        if (sampledStep) {
            drawRows(rows);
        }
        double joulesBefore = energyMeter == null ? Double.NaN : energyMeter.joules();
        long stepStart = System.nanoTime();
        try {
            if (greedyStep) {
                runnerPicks = model.forwardGreedy(batch, greedyIds);
            } else if (sampledStep && !model.forwardSampled(batch, sampleRows, greedyIds)) {
                // No device path: the same rows (their numbers are drawn already) are applied here.
                model.forward(batch, logits);
                ModelRunner.sampleRows(logits, sampleRows, rows, vocab, greedyIds, hostRule);
            }
            if (!runnerPicks) {
                model.forward(batch, logits);
            }
        } catch (RuntimeException | Error e) {
            for (Sequence s : new ArrayList<>(planned)) {
                finish(s, FinishReason.ERROR, "", "the forward pass failed: " + e);
            }
            planned.clear();
            return;
        }
        if (energyMeter != null) {
            chargeEnergy(joulesBefore, energyMeter.joules(), System.nanoTime() - stepStart, rows);
        }
        steps++;
        lastBatchTokens = batch.size();
        lastBatchSequences = planned.size();
        int row = 0;
        for (int i = 0; i < planned.size(); i++) {
            Sequence s = planned.get(i);
            s.computed += plannedTokens[i];
            if (config.prefixCaching()) {
                registerFullBlocks(s);
            }
            if (s.computed == s.length) {
                if (runnerPicks) {
                    emitToken(s, greedyIds[row], null);
                } else {
                    sampleAndEmit(s, row * vocab);
                }
                row++;
            }
        }
        planned.clear();
        publishGauges();
    }

    /**
     * Charges a step's energy (the counter's difference around the forward pass, which returns once the device is
     * done) to the sequences in it, each by its share of the step's tokens, and adds it to the totals.
     */
    private void chargeEnergy(double before, double after, long nanos, int sampled) {
        double joules = after - before;
        if (!(joules >= 0)) {
            return; // unreadable (NaN) this time, or a counter that went back: charge nothing
        }
        int tokens = batch.size();
        for (int i = 0; i < planned.size(); i++) {
            planned.get(i).handle.addEnergy(joules * plannedTokens[i] / tokens);
        }
        energyJoules += joules;
        energySeconds += nanos / 1e9;
        energyTokens += tokens;
        energyGenerated += sampled;
        energyStats = new EnergyStats(energyJoules, energySeconds, energyTokens, energyGenerated, energyStats.meter());
    }

    /** Decides this step's tokens: decodes first, then prompt chunks, then admissions; preempts when KV runs out. */
    private void schedule() {
        planned.clear();
        int budget = config.maxTokensPerStep();
        running.sort(BY_PRIORITY);
        boolean preempted = false;
        for (int pass = 0; pass < 2; pass++) {
            boolean decodePass = pass == 0;
            for (int i = 0; i < running.size() && budget > 0; i++) {
                Sequence s = running.get(i);
                if ((s.pending() == 1) != decodePass || planned.contains(s)) {
                    continue;
                }
                int n = Math.min(s.pending(), budget);
                while (!s.cache.ensureCapacity(s.computed + n)) {
                    Sequence victim = running.get(running.size() - 1);
                    preempt(victim);
                    preempted = true;
                    if (victim == s) {
                        n = 0;
                        break;
                    }
                }
                if (n > 0) {
                    plan(s, n);
                    budget -= n;
                } else {
                    i--; // s was removed from running; the next sequence moved into slot i
                }
            }
        }
        boolean mayAdmit = !preempted && (config.policy() == RuntimeConfig.Policy.IN_FLIGHT || running.isEmpty());
        while (mayAdmit && running.size() < config.maxRunning() && !waiting.isEmpty()) {
            if (config.policy() == RuntimeConfig.Policy.IN_FLIGHT && budget == 0) {
                break;
            }
            Sequence s = waiting.peek();
            if (!s.prefixApplied) {
                applyPrefixCache(s);
            }
            int n = Math.min(s.pending(), budget);
            if (!s.cache.ensureCapacity(s.computed + Math.max(n, 1))) {
                s.resetCache(); // gives back any prefix blocks it took, so they can be evicted if need be
                break;
            }
            waiting.poll();
            running.add(s);
            if (!s.admittedBefore) {
                s.admittedBefore = true;
                s.handle.markAdmitted();
                promptTokens += s.promptLength;
                cachedPromptTokens += s.cachedPromptTokens;
            }
            if (n > 0) {
                plan(s, n);
                budget -= n;
            }
        }
    }

    /** True when every sequence sampling this step takes the plain argmax and wants no logprobs. */
    private boolean allPlainGreedy() {
        for (int i = 0; i < planned.size(); i++) {
            Sequence s = planned.get(i);
            if (s.computed + plannedTokens[i] == s.length
                    && (!s.request.sampling().plainGreedy() || s.request.topLogprobs() >= 0)) {
                return false;
            }
        }
        return true;
    }

    /**
     * True when every sequence sampling this step can be sampled from its raw logits by the rule alone: no logit
     * bias, no penalties, no logprobs.
     */
    private boolean allDeviceSamplable() {
        for (int i = 0; i < planned.size(); i++) {
            Sequence s = planned.get(i);
            if (s.computed + plannedTokens[i] == s.length
                    && (!s.sampler.deviceSamplable() || s.request.topLogprobs() >= 0)) {
                return false;
            }
        }
        return true;
    }

    /** This step's sampling rows in logits-row order, each drawing its sequence's uniform number. */
    private void drawRows(int rows) {
        if (sampleRows.length < rows) {
            sampleRows = new SamplingRow[Math.max(rows, config.maxRunning())];
        }
        int r = 0;
        for (int i = 0; i < planned.size(); i++) {
            Sequence s = planned.get(i);
            if (s.computed + plannedTokens[i] == s.length) {
                sampleRows[r++] = s.sampler.nextRow();
            }
        }
    }

    private void plan(Sequence s, int n) {
        if (planned.size() == plannedTokens.length) {
            plannedTokens = java.util.Arrays.copyOf(plannedTokens, plannedTokens.length * 2);
        }
        plannedTokens[planned.size()] = n;
        planned.add(s);
    }

    private void preempt(Sequence victim) {
        running.remove(victim);
        int idx = planned.indexOf(victim);
        if (idx >= 0) {
            // Already planned this step (cannot happen with best-first order, but keep the plan consistent).
            planned.remove(idx);
            System.arraycopy(plannedTokens, idx + 1, plannedTokens, idx, planned.size() - idx);
        }
        victim.resetCache();
        waiting.add(victim);
        preemptions++;
    }

    /** Takes cached blocks for the longest cached prefix of the sequence's tokens (never its last token). */
    private void applyPrefixCache(Sequence s) {
        s.prefixApplied = true;
        if (!config.prefixCaching()) {
            return;
        }
        int bs = config.kvBlockSize();
        int b = 0;
        long parent = 0;
        while ((b + 1) * bs <= s.length - 1) {
            long h = KvBlockPool.chainHash(parent, s.tokens, b * bs, bs);
            int block = pool.lookup(h, s.tokens, b * bs);
            if (block < 0) {
                break;
            }
            s.cache.appendBlock(block);
            s.setBlockHash(b, h);
            parent = h;
            b++;
        }
        s.hashedBlocks = b;
        s.computed = b * bs;
        s.cache.setLength(s.computed);
        if (!s.admittedBefore) {
            s.cachedPromptTokens = Math.min(s.computed, s.promptLength);
        }
    }

    private void registerFullBlocks(Sequence s) {
        int bs = config.kvBlockSize();
        while ((s.hashedBlocks + 1) * bs <= s.computed) {
            int b = s.hashedBlocks;
            long parent = b == 0 ? 0 : s.blockHashes[b - 1];
            long h = KvBlockPool.chainHash(parent, s.tokens, b * bs, bs);
            s.setBlockHash(b, h);
            pool.register(s.cache.block(b), h, s.tokens, b * bs);
            s.hashedBlocks++;
        }
    }

    private void sampleAndEmit(Sequence s, int off) {
        int vocab = model.vocabSize();
        int top = s.request.topLogprobs();
        if (top >= 0) {
            if (rawRow.length < vocab) {
                rawRow = new float[vocab];
            }
            System.arraycopy(logits, off, rawRow, 0, vocab);
        }
        int id = s.sampler.sample(logits, off);
        emitToken(s, id, top >= 0 ? logprobs.of(rawRow, id, top) : null);
    }

    /** Appends the chosen token, streams it, and finishes the sequence on a stop condition. */
    private void emitToken(Sequence s, int id, GenerationEvent.Logprob lp) {
        s.sampler.accept(id);
        s.append(id);
        generatedTokens++;
        String text = s.detokenizer == null ? "" : s.detokenizer.push(id);
        text = s.stopStrings.push(text);
        s.handle.emit(new GenerationEvent.Token(id, text, lp));
        if (s.request.stop().stopTokenIds().contains(id) || s.stopStrings.stopped()) {
            finish(s, FinishReason.STOP, "", null);
        } else if (s.length >= s.maxLength) {
            finish(s, FinishReason.LENGTH, flushText(s), null);
        }
    }

    private String flushText(Sequence s) {
        String tail = s.detokenizer == null ? "" : s.stopStrings.push(s.detokenizer.flush());
        return s.stopStrings.stopped() ? tail : tail + s.stopStrings.flush();
    }

    private void finish(Sequence s, FinishReason reason, String text, String error) {
        running.remove(s);
        s.resetCache();
        queued.decrementAndGet();
        finished++;
        if (reason == FinishReason.CANCELLED) {
            cancelled++;
        }
        publishGauges(); // so that a caller woken by this event sees the memory already freed
        s.handle.emit(new GenerationEvent.Finished(reason, text, s.promptLength, s.generated(), s.cachedPromptTokens, error));
    }

    private void publishGauges() {
        runningCount = running.size();
        poolUsed = pool.usedBlocks();
        poolIdle = pool.cachedIdleBlocks();
    }

    /** Stops the loop; requests still running or waiting finish as cancelled. */
    @Override
    public void close() {
        closed = true;
        wake();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
