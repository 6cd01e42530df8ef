package dev.llmplatform.nativekernels;

import dev.llmplatform.engine.arch.Batch;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.arch.ModelRunner;
import dev.llmplatform.engine.arch.ModelWeights;
import dev.llmplatform.engine.arch.TransformerSpec;
import dev.llmplatform.engine.cpu.KvBlockPool;
import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.parallel.ShardPlan;
import dev.llmplatform.engine.parallel.TensorParallel;
import dev.llmplatform.engine.runtime.EnergyMeter;
import dev.llmplatform.engine.runtime.EnergyMetered;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * A Llama-family model split over GPU ranks (tensor parallelism, Megatron's split as the engine's
 * {@link ShardPlan} decides it), seen by the runtime as one {@link ModelRunner}. One process, one thread per rank
 * ({@link GpuRankThreads}); each rank is a {@link GpuLlamaModel} over its shard of the weights (cut by the engine's
 * {@link TensorParallel#shardWeights}) on its own device, stream and KV arena (its heads of every block), with an
 * all-reduce after the attention output and down projections: NCCL between GPUs, or copies and adds where ranks
 * share a GPU ({@link ReduceGroup}).
 *
 * <p>A step: the batch is checked and its KV positions reserved once, here; every rank runs the same batch on its
 * thread. Logits: each rank computes its vocabulary slice; {@link #forward} writes each slice into its columns of the
 * caller's rows, and {@link #forwardGreedy} takes each rank's argmax and its logit (8 bytes a row) and keeps the
 * largest, the lower rank (so the lower token id) on ties, as a whole-vocabulary argmax would.
 *
 * <p>CUDA graphs: with NCCL, each rank captures its decode steps, NCCL's calls included, and all ranks replay their
 * graphs in the same step. The copy+add group synchronises ranks on the host inside the pass, which a graph cannot
 * hold, so its ranks run kernel by kernel.
 *
 * <p>The embedding is whole on every rank (a vocabulary-parallel embedding would cost one more all-reduce a step
 * to save half of it on each of two ranks: 0.26 GB of 0.53 GB on Llama-3.2-1B, 0.13 GB of 0.26 GB on Llama-2-7B).
 *
 * <p>A rank that fails in a step aborts the group's all-reduce, so the step throws that rank's exception instead of
 * hanging (see {@link GpuRankThreads}). After an NCCL abort the model cannot run again; the copy+add group can.
 *
 * <p>Not thread-safe: one step at a time, as the runtime calls it.
 */
public final class GpuTensorParallelModel implements ModelRunner, EnergyMetered, DeviceKvBudget {

    /** How ranks sum their partial results. */
    public enum AllReduce {
        /** NCCL, one device per rank. */
        NCCL,
        /**
         * A one-shot kernel over peer memory for messages up to 1 MB (decode steps at small batches), NCCL above;
         * one device per rank, peer access between all of them ({@link PeerAllReduceGroup}).
         */
        PEER,
        /** Device copies and an add kernel; ranks may share a device. */
        COPY_ADD
    }

    private final String name;
    private final TransformerSpec spec;
    private final ShardPlan plan;
    private final int[] devices;
    private final GpuRankThreads threads;
    private final ReduceGroup group;
    private final GpuLlamaModel[] ranks;
    private final int[][] rankIds;
    private final float[][] rankValues;
    private Optional<EnergyMeter> energyMeter;

    private GpuTensorParallelModel(String name, TransformerSpec spec, ShardPlan plan, int[] devices, GpuRankThreads threads,
                                   ReduceGroup group, GpuLlamaModel[] ranks) {
        this.name = name;
        this.spec = spec;
        this.plan = plan;
        this.devices = devices;
        this.threads = threads;
        this.group = group;
        this.ranks = ranks;
        this.rankIds = new int[ranks.length][0];
        this.rankValues = new float[ranks.length][0];
    }

    /**
     * Splits {@code full} over {@code devices.length} ranks, rank r on device {@code devices[r]} (a device may
     * repeat with {@link AllReduce#COPY_ADD}). {@code full} stays the caller's; its weights are read here, cut and
     * uploaded, and not needed afterwards.
     */
    public static GpuTensorParallelModel load(DecoderModel full, int[] devices, GpuLlamaModel.Precision precision,
                                              AllReduce reduce) {
        TransformerSpec spec = full.spec();
        GpuLlamaModel.requireLlamaFamily(spec, full.name());
        ShardPlan plan = ShardPlan.of(spec, devices.length, full.name());
        int n = devices.length;
        try (Arena arena = Arena.ofShared()) {
            ModelWeights[] shards = TensorParallel.shardWeights(full.weights(), plan, arena);
            ModelWeights w = full.weights();
            ModelWeights[] rankWeights = new ModelWeights[n];
            for (int r = 0; r < n; r++) {
                ModelWeights s = shards[r];
                // The embedding stays whole on every rank (see the class comment).
                rankWeights[r] = new ModelWeights(w.tokenEmbedding(), s.positionEmbedding(), s.embeddingNormWeight(),
                        s.embeddingNormBias(), s.layers(), s.finalNormWeight(), s.finalNormBias(), s.lmHead(), s.lmHeadBias());
            }
            return loadShards(full.name(), spec, plan, rankWeights, devices, precision, reduce);
        }
    }

    /**
     * Uploads ready-cut rank weights ({@code rankWeights[r]}: rank r's shard as {@link TensorParallel#shardWeights}
     * cuts it, with the whole embedding) to {@code devices[r]}. {@link #load} is the way in from a checkpoint; the
     * benchmark comes here with shards it assembled itself (a shape too big to write as a random checkpoint).
     */
    static GpuTensorParallelModel loadShards(String name, TransformerSpec spec, ShardPlan plan, ModelWeights[] rankWeights,
                                             int[] devices, GpuLlamaModel.Precision precision, AllReduce reduce) {
        int n = devices.length;
        int visible = Cuda.deviceCount();
        for (int d : devices) {
            if (d < 0 || d >= visible) {
                throw new IllegalArgumentException("device " + d + " does not exist: " + visible + " GPU(s) visible");
            }
        }
        ReduceGroup group = switch (reduce) {
            case NCCL -> new NcclGroup(devices);
            case PEER -> new PeerAllReduceGroup(devices, PeerAllReduceGroup.DEFAULT_LIMIT_BYTES);
            case COPY_ADD -> new CopyAddGroup(devices);
        };
        GpuRankThreads threads = new GpuRankThreads(n);
        try {
            List<GpuLlamaModel> loaded = threads.call(r -> new GpuLlamaModel(name, plan.rankSpec(spec, r), rankWeights[r], precision,
                    new GpuLlamaModel.Shard(devices[r], spec.kvDim(), group.rank(r))), group::abort);
            return new GpuTensorParallelModel(name, spec, plan, devices.clone(), threads, group, loaded.toArray(new GpuLlamaModel[0]));
        } catch (RuntimeException | Error e) {
            threads.close();
            group.close();
            throw e;
        }
    }

    /**
     * Why NCCL cannot sum over {@code devices} here (NVLink multicast not off, a device repeated, libnccl.so.2 missing),
     * or null when it can.
     */
    public static String ncclUnavailableReason(int[] devices) {
        return NcclGroup.unavailableReason(devices);
    }

    /**
     * The all-reduce to serve with over {@code devices}: {@link AllReduce#PEER} where every GPU can read every other's
     * memory (NVLink, as on H100 boards), else {@link AllReduce#NCCL}. Needs CUDA and NCCL to answer.
     */
    public static AllReduce bestAllReduce(int[] devices) {
        return PeerAllReduceGroup.unavailableReason(devices) == null ? AllReduce.PEER : AllReduce.NCCL;
    }

    @Override
    public String name() {
        return name;
    }

    public TransformerSpec spec() {
        return spec;
    }

    public ShardPlan plan() {
        return plan;
    }

    public int tensorParallelSize() {
        return ranks.length;
    }

    /** The devices of the ranks, in rank order. */
    public int[] devices() {
        return devices.clone();
    }

    /**
     * The energy of all the ranks' GPUs together (NVML's counters summed), so the runtime charges each step's joules
     * over every GPU it ran on; empty when any of them has no counter (a partial sum would understate the cost).
     */
    @Override
    public Optional<EnergyMeter> energyMeter() {
        if (energyMeter == null) {
            List<Optional<EnergyMeter>> meters = Arrays.stream(ranks).map(GpuLlamaModel::energyMeter).toList();
            energyMeter = meters.stream().allMatch(Optional::isPresent)
                    ? Optional.of(new SummedEnergyMeter(meters.stream().map(Optional::get).toList()))
                    : Optional.empty();
        }
        return energyMeter;
    }

    /**
     * Why the model cannot run another step (a rank failed and its all-reduce group was aborted for good: reload the
     * model), or empty while it can. A serving instance reports itself down on this.
     */
    public Optional<String> unusableReason() {
        return Optional.ofNullable(group.unusableReason());
    }

    /** The all-reduce in use, in words. */
    public String allReduceDescription() {
        return group.describe();
    }

    @Override
    public int vocabSize() {
        return spec.vocab();
    }

    @Override
    public int contextLength() {
        return spec.contextLength();
    }

    /** The largest rank's bytes per KV position (ranks hold their heads; replicated KV heads count on each). */
    @Override
    public long kvBytesPerPosition() {
        return Arrays.stream(ranks).mapToLong(GpuLlamaModel::kvBytesPerPosition).max().orElse(0);
    }

    /** The least free and the smallest total device memory over the ranks' GPUs (asked on each rank's thread). */
    @Override
    public long[] deviceMemory() {
        List<long[]> each = threads.call(r -> ranks[r].deviceMemory(), group::abort);
        return new long[] {each.stream().mapToLong(m -> m[0]).min().orElse(0), each.stream().mapToLong(m -> m[1]).min().orElse(0)};
    }

    /** Bytes of weights on the device of the rank that holds the most. */
    public long weightBytesPerRank() {
        return Arrays.stream(ranks).mapToLong(GpuLlamaModel::weightBytes).max().orElse(0);
    }

    /** Whether ranks capture decode steps as CUDA graphs (default on; only with NCCL do they). */
    public GpuTensorParallelModel setCudaGraphs(boolean on) {
        threads.call(r -> ranks[r].setCudaGraphs(on), group::abort);
        return this;
    }

    /** Programmatic dependent launch on every rank ({@link GpuLlamaModel#setProgrammaticLaunch}). */
    public GpuTensorParallelModel setProgrammaticLaunch(boolean on) {
        threads.call(r -> ranks[r].setProgrammaticLaunch(on), group::abort);
        return this;
    }

    public GpuTensorParallelModel setKvCacheBf16(boolean on) {
        threads.call(r -> ranks[r].setKvCacheBf16(on), group::abort);
        return this;
    }

    /** The KV cache element type of pools made from now on, on every rank ({@link GpuLlamaModel#setKvCacheType}). */
    public GpuTensorParallelModel setKvCacheType(int type) {
        threads.call(r -> ranks[r].setKvCacheType(type), group::abort);
        return this;
    }

    /** Graphs captured so far over all ranks. */
    public int graphCaptures() {
        return Arrays.stream(ranks).mapToInt(GpuLlamaModel::graphCaptures).sum();
    }

    /** The scheduler's pool (bookkeeping); each rank allocates its heads' device arena for it now. */
    @Override
    public KvBlockPool newKvPool(int blockSize, int maxBlocks) {
        KvBlockPool pool = new KvBlockPool(spec.layers(), spec.kvDim(), blockSize, maxBlocks, false);
        threads.call(r -> {
            ranks[r].attach(pool);
            return null;
        }, group::abort);
        return pool;
    }

    @Override
    public KvCache newCache(KvBlockPool pool) {
        return new KvCache(pool, spec.contextLength());
    }

    public void releaseKvPool(KvBlockPool pool) {
        threads.call(r -> {
            ranks[r].releaseKvPool(pool);
            return null;
        }, group::abort);
    }

    @Override
    public void forward(Batch batch, float[] logits) {
        if (batch.size() == 0) {
            return;
        }
        int rows = batch.logitRows();
        if (logits.length < (long) rows * spec.vocab()) {
            throw new IllegalArgumentException("logits buffer holds " + logits.length + " floats, need " + rows + " x " + spec.vocab());
        }
        prepare(batch);
        threads.call(r -> {
            ranks[r].rankForward(batch, logits, spec.vocab(), plan.vocabStart(r));
            return null;
        }, group::abort);
    }

    @Override
    public boolean forwardGreedy(Batch batch, int[] nextIds) {
        if (batch.size() == 0) {
            return true;
        }
        int rows = batch.logitRows();
        for (int r = 0; r < ranks.length; r++) {
            if (rankIds[r].length < rows) {
                rankIds[r] = new int[Math.max(rows, 2 * rankIds[r].length)];
                rankValues[r] = new float[rankIds[r].length];
            }
        }
        prepare(batch);
        threads.call(r -> ranks[r].rankGreedy(batch, rankIds[r], rankValues[r]), group::abort);
        for (int row = 0; row < rows; row++) {
            int best = 0;
            for (int r = 1; r < ranks.length; r++) {
                if (rankValues[r][row] > rankValues[best][row]) {
                    best = r;
                }
            }
            nextIds[row] = plan.vocabStart(best) + rankIds[best][row];
        }
        return true;
    }

    /** The checks and KV reservations of a step, made once for all ranks (they share the block tables). */
    private void prepare(Batch batch) {
        group.beginStep();
        GpuLlamaModel.checkAndReserve(batch, spec.vocab(), spec.contextLength(), name);
    }

    /** Test hook: rank {@code rank} throws while enqueueing layer {@code layer} of the next steps (-1: never). */
    void failAtLayer(int rank, int layer) {
        threads.call(r -> {
            if (r == rank) {
                ranks[r].failAtLayer(layer);
            }
            return null;
        }, group::abort);
    }

    /** Benchmark hook: steps without their all-reduces (wrong results), to time the all-reduces' share of a step. */
    void skipAllReduce(boolean skip) {
        threads.call(r -> {
            ranks[r].skipAllReduce(skip);
            return null;
        }, group::abort);
    }

    /**
     * Benchmark: {@code iterations} all-reduces of {@code floats} floats on every rank's stream, back to back (after
     * a warm-up), through the model's group (for {@link AllReduce#PEER}: the one-shot kernel up to its limit); the
     * seconds per all-reduce.
     */
    double timeAllReduce(long floats, int iterations) {
        List<Long> bufs = threads.call(r -> {
            long b = Cuda.malloc(4 * floats);
            Cuda.memset(b, 4 * floats, ranks[r].stream());
            return b;
        }, group::abort);
        try {
            for (int pass = 0; pass < 2; pass++) {
                int its = pass == 0 ? 5 : iterations;
                long t0 = System.nanoTime();
                threads.call(r -> {
                    ReduceGroup.Rank ar = group.rank(r);
                    ar.bind(ranks[r].stream(), ranks[r].kernels());
                    ar.reserve(floats);
                    for (int i = 0; i < its; i++) {
                        ar.sum(bufs.get(r), floats);
                    }
                    Cuda.sync(ranks[r].stream());
                    return null;
                }, group::abort);
                if (pass == 1) {
                    return (System.nanoTime() - t0) / 1e9 / its;
                }
            }
            throw new AssertionError();
        } finally {
            threads.call(r -> {
                Cuda.free(bufs.get(r));
                return null;
            }, group::abort);
        }
    }

    @Override
    public void close() {
        try {
            threads.call(r -> {
                ranks[r].close();
                return null;
            }, group::abort);
        } finally {
            threads.close();
            group.close();
        }
    }
}
