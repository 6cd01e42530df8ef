package dev.llmplatform.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.llmplatform.engine.Engine;
import dev.llmplatform.engine.arch.Architectures;
import dev.llmplatform.engine.arch.Batch;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.arch.ModelRunner;
import dev.llmplatform.engine.cpu.KvBlockPool;
import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.testing.SharedFixtures;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class EngineRuntimeTest {
    private static Engine kjv;

    @BeforeAll
    static void load() {
        kjv = Engine.load(SharedFixtures.bundledKjvDemo(), 2);
    }

    @AfterAll
    static void close() throws Exception {
        kjv.close();
    }

    private static RuntimeConfig config(int blocks) {
        return new RuntimeConfig(16, 10_000, 64, 16, blocks, true, RuntimeConfig.Policy.IN_FLIGHT);
    }

    /** Output ids of a finished request, from its events. */
    static int[] outputIds(List<GenerationEvent> events) {
        return events.stream().filter(e -> e instanceof GenerationEvent.Token).mapToInt(e -> ((GenerationEvent.Token) e).tokenId()).toArray();
    }

    static GenerationEvent.Finished finish(List<GenerationEvent> events) {
        return (GenerationEvent.Finished) events.getLast();
    }

    static String text(List<GenerationEvent> events) {
        StringBuilder sb = new StringBuilder();
        for (GenerationEvent e : events) {
            if (e instanceof GenerationEvent.Token t) {
                sb.append(t.text());
            } else if (e instanceof GenerationEvent.Finished f) {
                sb.append(f.text());
            }
        }
        return sb.toString();
    }

    private static int[] randomPrompt(SplittableRandom r, int vocab, int length) {
        int[] p = new int[length];
        for (int i = 0; i < length; i++) {
            p[i] = r.nextInt(vocab);
        }
        return p;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "gpt2", "falcon", "bloom", "mpt", "gptj", "qwen2", "mistral"})
    void concurrentGreedyRequestsEqualOneAtATime(String arch) throws Exception {
        try (WorkerPool pool = new WorkerPool(2); DecoderModel model = Architectures.load(SharedFixtures.hfTiny(arch), pool)) {
            SplittableRandom r = new SplittableRandom(arch.hashCode());
            int n = 12;
            int[][] prompts = new int[n][];
            int[] maxTokens = new int[n];
            int[][] expected = new int[n][];
            Generator g = new Generator(model);
            for (int i = 0; i < n; i++) {
                prompts[i] = randomPrompt(r, model.vocabSize(), 1 + r.nextInt(70));
                maxTokens[i] = 1 + r.nextInt(40);
                expected[i] = g.generate(prompts[i], maxTokens[i], SamplingParams.GREEDY, Set.of(), id -> true).outputIds();
            }
            // A small token budget forces chunked prefill; a few blocks force preemption.
            RuntimeConfig cfg = new RuntimeConfig(8, 100, 24, 16, 24, true, RuntimeConfig.Policy.IN_FLIGHT);
            try (EngineRuntime rt = new EngineRuntime(model, null, cfg)) {
                List<RequestHandle> handles = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    handles.add(rt.submit(GenerationRequest.of(prompts[i], SamplingParams.GREEDY,
                            StopConditions.maxTokens(maxTokens[i], Set.of()))));
                }
                for (int i = 0; i < n; i++) {
                    List<GenerationEvent> events = handles.get(i).awaitEvents(60, TimeUnit.SECONDS);
                    assertArrayEquals(expected[i], outputIds(events), arch + " request " + i);
                    assertEquals(FinishReason.LENGTH, finish(events).reason());
                    assertEquals(maxTokens[i], finish(events).completionTokens());
                }
                RuntimeStats stats = rt.stats();
                assertEquals(0, stats.kvBlocksUsed(), "every block is back");
                assertTrue(stats.preemptions() > 0, "the small cache forced preemptions: " + stats);
            }
        }
    }

    @Test
    void kjvGreedyContinuationsMatchTheReferenceWhenBatchedTogether() throws Exception {
        var ref = tools.jackson.databind.json.JsonMapper.builder().build().readTree(
                java.nio.file.Files.readString(SharedFixtures.kjvDemo().resolve("reference.json"))).get("generations");
        try (EngineRuntime rt = new EngineRuntime(kjv.model(), kjv.requireTokenizer(), config(512))) {
            List<RequestHandle> handles = new ArrayList<>();
            for (var g : ref) {
                int[] prompt = ids(g.get("prompt_ids"));
                handles.add(rt.submit(GenerationRequest.of(prompt, SamplingParams.GREEDY, StopConditions.maxTokens(32, kjv.stopIds()))));
            }
            for (int i = 0; i < handles.size(); i++) {
                List<GenerationEvent> events = handles.get(i).awaitEvents(60, TimeUnit.SECONDS);
                assertArrayEquals(ids(ref.get(i).get("greedy_ids")), outputIds(events));
                assertEquals(ref.get(i).get("greedy_text").asString(), text(events), "streamed text deltas add up");
            }
        }
    }

    private static int[] ids(tools.jackson.databind.JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asInt();
        }
        return out;
    }

    @Test
    void aPrefixServedFromTheCacheGivesTheSameOutput() throws Exception {
        int[] system = kjv.encodePrompt("And God said, Let there be light: and there was light. And God saw the light, that it was good: "
                + "and God divided the light from the darkness.", Engine.BosPolicy.AUTO);
        int[] question = kjv.encodePrompt(" And the evening and the morning were", Engine.BosPolicy.NEVER);
        int[] prompt = concat(system, question);
        int[] expected;
        try (EngineRuntime cold = new EngineRuntime(kjv.model(), kjv.requireTokenizer(), config(256).withPrefixCaching(false))) {
            expected = outputIds(cold.submit(greedy(prompt, 24)).awaitEvents(30, TimeUnit.SECONDS));
        }
        try (EngineRuntime rt = new EngineRuntime(kjv.model(), kjv.requireTokenizer(), config(256))) {
            List<GenerationEvent> first = rt.submit(greedy(prompt, 24)).awaitEvents(30, TimeUnit.SECONDS);
            List<GenerationEvent> second = rt.submit(greedy(prompt, 24)).awaitEvents(30, TimeUnit.SECONDS);
            assertArrayEquals(expected, outputIds(first));
            assertArrayEquals(expected, outputIds(second));
            assertEquals(0, finish(first).cachedPromptTokens());
            int cacheable = (prompt.length - 1) / 16 * 16;
            assertEquals(cacheable, finish(second).cachedPromptTokens(), "all full blocks but the last token's come from the cache");
            assertEquals((double) cacheable / (2 * prompt.length), rt.stats().prefixHitRate(), 1e-9, rt.stats().toString());
        }
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static GenerationRequest greedy(int[] prompt, int maxTokens) {
        return GenerationRequest.of(prompt, SamplingParams.GREEDY, StopConditions.maxTokens(maxTokens, Set.of()));
    }

    @Test
    void seededSamplingIsTheSameAloneAndInABatch() throws Exception {
        int[] prompt = kjv.encodePrompt("In the beginning", Engine.BosPolicy.AUTO);
        SamplingParams sampled = new SamplingParams(0.9, 40, 0.95, 0, 1.1, 0, 0, 1234L);
        GenerationRequest req = GenerationRequest.of(prompt, sampled, StopConditions.maxTokens(40, Set.of()));
        try (EngineRuntime rt = new EngineRuntime(kjv.model(), kjv.requireTokenizer(), config(512))) {
            int[] alone = outputIds(rt.submit(req).awaitEvents(30, TimeUnit.SECONDS));
            List<RequestHandle> crowd = new ArrayList<>();
            SplittableRandom r = new SplittableRandom(5);
            for (int i = 0; i < 6; i++) {
                crowd.add(rt.submit(GenerationRequest.of(randomPrompt(r, 4091, 5 + r.nextInt(30)),
                        sampled.withSeed((long) i), StopConditions.maxTokens(10 + r.nextInt(40), Set.of()))));
            }
            int[] batched = outputIds(rt.submit(req).awaitEvents(30, TimeUnit.SECONDS));
            assertArrayEquals(alone, batched);
            for (RequestHandle h : crowd) {
                h.awaitEvents(30, TimeUnit.SECONDS);
            }
        }
    }

    /**
     * The CPU model behind the runner contract, with the runner-side paths on or off: off, the runtime samples every
     * token on the host with {@link Sampler#sample}; on, it hands {@link SamplingRow}s to forwardSampled (counted).
     */
    private static final class Wrapped implements ModelRunner {
        private final ModelRunner m;
        private final boolean runnerPaths;
        final AtomicInteger sampledSteps = new AtomicInteger();

        Wrapped(ModelRunner m, boolean runnerPaths) {
            this.m = m;
            this.runnerPaths = runnerPaths;
        }

        @Override public String name() { return m.name(); }
        @Override public int vocabSize() { return m.vocabSize(); }
        @Override public int contextLength() { return m.contextLength(); }
        @Override public KvBlockPool newKvPool(int blockSize, int maxBlocks) { return m.newKvPool(blockSize, maxBlocks); }
        @Override public KvCache newCache(KvBlockPool pool) { return m.newCache(pool); }
        @Override public void forward(Batch batch, float[] logits) { m.forward(batch, logits); }
        @Override public boolean forwardGreedy(Batch batch, int[] nextIds) { return runnerPaths && m.forwardGreedy(batch, nextIds); }

        @Override
        public boolean forwardSampled(Batch batch, SamplingRow[] rows, int[] nextIds) {
            if (!runnerPaths) {
                return false;
            }
            sampledSteps.incrementAndGet();
            return m.forwardSampled(batch, rows, nextIds);
        }

        @Override public void close() { }
    }

    private static List<int[]> runAll(ModelRunner model, List<GenerationRequest> requests) throws Exception {
        try (EngineRuntime rt = new EngineRuntime(model, kjv.requireTokenizer(), config(512))) {
            List<RequestHandle> handles = new ArrayList<>();
            for (GenerationRequest r : requests) {
                handles.add(rt.submit(r));
            }
            List<int[]> out = new ArrayList<>();
            for (RequestHandle h : handles) {
                List<GenerationEvent> events = h.awaitEvents(60, TimeUnit.SECONDS);
                assertNull(finish(events).error());
                out.add(outputIds(events));
            }
            return out;
        }
    }

    @Test
    void seededRequestsSampledByTheRunnerGiveTheHostSamplersTokens() throws Exception {
        SplittableRandom r = new SplittableRandom(21);
        List<GenerationRequest> requests = new ArrayList<>();
        int[] topKs = {0, 1, 40};
        double[] topPs = {1, 0.9};
        double[] minPs = {0, 0.05};
        for (int i = 0; i < 12; i++) {
            SamplingParams p = i == 0 ? SamplingParams.GREEDY : new SamplingParams(0.5 + r.nextDouble(), topKs[i % 3],
                    topPs[(i / 3) % 2], minPs[(i / 6) % 2], 1, 0, 0, 100L + i);
            requests.add(GenerationRequest.of(randomPrompt(r, 4091, 3 + r.nextInt(20)), p,
                    StopConditions.maxTokens(8 + r.nextInt(30), Set.of())));
        }
        Wrapped onRunner = new Wrapped(kjv.model(), true);
        List<int[]> runner = runAll(onRunner, requests);
        List<int[]> host = runAll(new Wrapped(kjv.model(), false), requests);
        assertTrue(onRunner.sampledSteps.get() > 0, "the runtime used forwardSampled");
        Generator g = new Generator(kjv.model());
        for (int i = 0; i < requests.size(); i++) {
            assertArrayEquals(host.get(i), runner.get(i), "request " + i + " " + requests.get(i).sampling());
            GenerationRequest q = requests.get(i);
            int[] alone = g.generate(q.promptIds(), q.stop().maxTokens(), q.sampling(), Set.of(), id -> true).outputIds();
            assertArrayEquals(alone, runner.get(i), "request " + i + " against the Generator's Sampler");
        }
    }

    @Test
    void aRequestWithPenaltiesOrLogprobsSendsItsStepsToTheHostAndChangesNoOnesTokens() throws Exception {
        int[] prompt = kjv.encodePrompt("In the beginning", Engine.BosPolicy.AUTO);
        SamplingParams sampled = new SamplingParams(0.9, 40, 0.95, 0, 1, 0, 0, 77L);
        GenerationRequest plain = GenerationRequest.of(prompt, sampled, StopConditions.maxTokens(30, Set.of()));
        GenerationRequest penalised = GenerationRequest.of(prompt, new SamplingParams(0.9, 40, 0.95, 0, 1.3, 0, 0, 78L),
                StopConditions.maxTokens(30, Set.of()));
        Wrapped alone = new Wrapped(kjv.model(), true);
        int[] expected = runAll(alone, List.of(plain)).getFirst();
        assertTrue(alone.sampledSteps.get() >= 29, "every decode step of a lone sampled request ran on the runner");
        Wrapped mixed = new Wrapped(kjv.model(), true);
        List<int[]> both = runAll(mixed, List.of(plain, penalised));
        assertArrayEquals(expected, both.get(0));
        assertArrayEquals(runAll(new Wrapped(kjv.model(), false), List.of(penalised)).getFirst(), both.get(1));
        assertTrue(mixed.sampledSteps.get() < alone.sampledSteps.get(), "steps with the penalised request stayed on the host");
    }

    @Test
    void stopStringsEndTheOutputEvenAcrossTokens() throws Exception {
        int[] prompt = kjv.encodePrompt("And the LORD said unto Moses,", Engine.BosPolicy.AUTO);
        try (EngineRuntime rt = new EngineRuntime(kjv.model(), kjv.requireTokenizer(), config(256))) {
            // The greedy continuation is " Go unto the altar of the LORD thy God into the mount, ..."
            GenerationRequest req = GenerationRequest.of(prompt, SamplingParams.GREEDY,
                    new StopConditions(40, kjv.stopIds(), List.of("the LO", "mount,")));
            List<GenerationEvent> events = rt.submit(req).awaitEvents(30, TimeUnit.SECONDS);
            assertEquals(" Go unto the altar of ", text(events));
            assertEquals(FinishReason.STOP, finish(events).reason());
        }
    }

    @Test
    void logprobsDescribeTheModelsDistribution() throws Exception {
        int[] prompt = kjv.encodePrompt("In the beginning", Engine.BosPolicy.AUTO);
        try (EngineRuntime rt = new EngineRuntime(kjv.model(), kjv.requireTokenizer(), config(256))) {
            List<GenerationEvent> events = rt.submit(new GenerationRequest(prompt, SamplingParams.GREEDY,
                    StopConditions.maxTokens(5, Set.of()), 3, 0)).awaitEvents(30, TimeUnit.SECONDS);
            for (GenerationEvent e : events) {
                if (e instanceof GenerationEvent.Token t) {
                    GenerationEvent.Logprob lp = t.logprob();
                    assertNotNull(lp);
                    assertEquals(3, lp.top().size());
                    assertEquals(t.tokenId(), lp.top().get(0).tokenId(), "greedy picks the most likely token");
                    assertEquals(lp.logprob(), lp.top().get(0).logprob(), 1e-6);
                    assertTrue(lp.logprob() <= 0 && lp.top().get(1).logprob() <= lp.top().get(0).logprob());
                }
            }
            List<GenerationEvent> plain = rt.submit(greedy(prompt, 2)).awaitEvents(30, TimeUnit.SECONDS);
            assertNull(((GenerationEvent.Token) plain.get(0)).logprob());
        }
    }

    @Test
    void aFullQueueRefusesSubmissionsWithADistinctError() throws Exception {
        RuntimeConfig tiny = new RuntimeConfig(1, 2, 64, 16, 256, true, RuntimeConfig.Policy.IN_FLIGHT);
        int[] prompt = kjv.encodePrompt("In the beginning", Engine.BosPolicy.AUTO);
        try (EngineRuntime rt = new EngineRuntime(kjv.model(), kjv.requireTokenizer(), tiny)) {
            RequestHandle a = rt.submit(greedy(prompt, 500));
            RequestHandle b = rt.submit(greedy(prompt, 500));
            assertThrows(QueueFullException.class, () -> rt.submit(greedy(prompt, 5)));
            a.cancel();
            b.cancel();
            assertEquals(FinishReason.CANCELLED, a.completion().get(30, TimeUnit.SECONDS).reason());
            assertEquals(FinishReason.CANCELLED, b.completion().get(30, TimeUnit.SECONDS).reason());
            // With the queue drained, submissions are accepted again.
            assertEquals(FinishReason.LENGTH, rt.submit(greedy(prompt, 1)).completion().get(30, TimeUnit.SECONDS).reason());
        }
    }

    @Test
    void requestsThatCanNeverRunAreRefusedAtSubmission() {
        try (EngineRuntime rt = new EngineRuntime(kjv.model(), kjv.requireTokenizer(), config(8))) {
            var e = assertThrows(IllegalArgumentException.class, () -> rt.submit(greedy(new int[] {1, 2, 3}, 500)));
            assertTrue(e.getMessage().contains("8 blocks"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> rt.submit(greedy(new int[] {1, 99999}, 5)));
            assertTrue(e.getMessage().contains("99999"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> rt.submit(greedy(new int[1024], 5)));
            assertTrue(e.getMessage().contains("1024 tokens"), e.getMessage());
        }
    }

    @Test
    void randomSubmitsCancelsAndCompletionsLeaveEveryBlockFree() throws Exception {
        SplittableRandom r = new SplittableRandom(99);
        // 20 blocks of 16 positions for up to 6 sequences of up to 90 positions: preemption is certain.
        RuntimeConfig small = new RuntimeConfig(6, 10_000, 48, 16, 20, true, RuntimeConfig.Policy.IN_FLIGHT);
        int total = 3000;
        try (WorkerPool pool = new WorkerPool(2); DecoderModel tiny = Architectures.load(SharedFixtures.hfTiny("llama"), pool);
             EngineRuntime rt = new EngineRuntime(tiny, null, small)) {
            List<RequestHandle> handles = new ArrayList<>();
            int[] shared = randomPrompt(r, 256, 40);
            for (int i = 0; i < total; i++) {
                int[] prompt = r.nextInt(3) == 0 ? Arrays.copyOf(shared, 20 + r.nextInt(20)) : randomPrompt(r, 256, 1 + r.nextInt(60));
                SamplingParams sp = r.nextBoolean() ? SamplingParams.GREEDY : new SamplingParams(1, 0, 1, 0, 1, 0, 0, (long) i);
                RequestHandle h = rt.submit(new GenerationRequest(prompt, sp, StopConditions.maxTokens(1 + r.nextInt(30), Set.of(7)),
                        r.nextInt(4) == 0 ? 2 : -1, r.nextInt(3)));
                handles.add(h);
                if (r.nextInt(4) == 0) {
                    handles.get(r.nextInt(handles.size())).cancel();
                }
            }
            int[] finishes = new int[handles.size()];
            for (int i = 0; i < handles.size(); i++) {
                RequestHandle h = handles.get(i);
                List<GenerationEvent> events = h.awaitEvents(120, TimeUnit.SECONDS);
                long finishedEvents = events.stream().filter(e -> e instanceof GenerationEvent.Finished).count();
                assertEquals(1, finishedEvents);
                finishes[i]++;
                assertTrue(h.isDone());
                GenerationEvent.Finished f = finish(events);
                assertEquals(outputIds(events).length, f.completionTokens());
                assertFalse(f.reason() == FinishReason.ERROR, f.error());
            }
            // The scheduler publishes gauges after its last step; wait for it to go idle.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (rt.stats().running() != 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            RuntimeStats s = rt.stats();
            assertEquals(0, s.kvBlocksUsed(), s.toString());
            assertEquals(total, s.finished());
            assertEquals(0, s.waiting());
            assertTrue(s.preemptions() > 0, s.toString());
            assertTrue(s.cancelled() > 0, s.toString());
            assertTrue(s.cachedPromptTokens() > 0, s.toString());
        }
    }

    @Test
    void staticBatchingGivesTheSameOutputs() throws Exception {
        SplittableRandom r = new SplittableRandom(3);
        int[][] prompts = new int[6][];
        for (int i = 0; i < prompts.length; i++) {
            prompts[i] = randomPrompt(r, 4091, 3 + r.nextInt(30));
        }
        int[][] a = new int[prompts.length][];
        int[][] b = new int[prompts.length][];
        for (RuntimeConfig.Policy p : RuntimeConfig.Policy.values()) {
            try (EngineRuntime rt = new EngineRuntime(kjv.model(), null, config(512).withPolicy(p).withMaxRunning(3))) {
                List<RequestHandle> hs = new ArrayList<>();
                for (int[] prompt : prompts) {
                    hs.add(rt.submit(greedy(prompt, 5 + prompt.length)));
                }
                for (int i = 0; i < hs.size(); i++) {
                    (p == RuntimeConfig.Policy.STATIC ? a : b)[i] = outputIds(hs.get(i).awaitEvents(30, TimeUnit.SECONDS));
                }
            }
        }
        for (int i = 0; i < prompts.length; i++) {
            assertArrayEquals(a[i], b[i]);
        }
    }
}
