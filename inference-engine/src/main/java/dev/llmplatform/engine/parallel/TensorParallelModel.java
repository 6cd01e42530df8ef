package dev.llmplatform.engine.parallel;

import dev.llmplatform.engine.arch.Batch;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.arch.ModelRunner;
import dev.llmplatform.engine.arch.TransformerSpec;
import dev.llmplatform.engine.cpu.KvBlockPool;
import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.cpu.KvShardStorage;
import dev.llmplatform.engine.cpu.WorkerPool;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * A model split over tensor-parallel ranks on the CPU, seen by the runtime as one {@link ModelRunner}: the scheduler
 * runs once, hands each step to {@link #forward}, which checks the batch and reserves cache positions once, then
 * has every rank compute the same batch on its own shard ({@link DecoderModel#forwardShard}), its own worker
 * threads and its own KV storage; the ranks meet at each all-reduce and write disjoint columns of the logits,
 * which are then sampled once.
 *
 * <p>KV memory: {@link #newKvPool} returns the scheduler's pool with bookkeeping only (block ids, reference counts,
 * prefix cache), and each rank gets a {@link KvShardStorage} for it holding only the rank's KV heads.
 *
 * <p>Not thread-safe: one forward pass at a time, as for {@link DecoderModel}.
 */
public final class TensorParallelModel implements ModelRunner {
    private final String name;
    private final TransformerSpec spec;
    private final ShardPlan plan;
    private final DecoderModel[] ranks;
    private final WorkerPool[] pools;
    private final RankThreads threads;
    private final InProcessAllReduce allReduce;
    private final AutoCloseable resources;
    private final Map<KvBlockPool, KvShardStorage[]> storage = new WeakHashMap<>();
    private float[] greedyLogits = new float[0];

    TensorParallelModel(String name, TransformerSpec spec, ShardPlan plan, DecoderModel[] ranks, WorkerPool[] pools,
                        RankThreads threads, InProcessAllReduce allReduce, AutoCloseable resources) {
        this.name = name;
        this.spec = spec;
        this.plan = plan;
        this.ranks = ranks;
        this.pools = pools;
        this.threads = threads;
        this.allReduce = allReduce;
        this.resources = resources;
    }

    @Override
    public String name() {
        return name;
    }

    /** The whole model's spec (the ranks' own are {@code rank(r).spec()}). */
    public TransformerSpec spec() {
        return spec;
    }

    public int tensorParallelSize() {
        return ranks.length;
    }

    public ShardPlan plan() {
        return plan;
    }

    /** Rank {@code r}'s model: its spec, weights and shard (for inspection; its forward pass needs the group). */
    public DecoderModel rank(int r) {
        return ranks[r];
    }

    public List<DecoderModel> ranks() {
        return List.of(ranks);
    }

    @Override
    public int vocabSize() {
        return spec.vocab();
    }

    @Override
    public int contextLength() {
        return spec.contextLength();
    }

    /** Bytes of KV memory per position over all ranks (replicated KV heads count once per rank holding them). */
    public long kvBytesPerPosition() {
        long n = 0;
        for (DecoderModel r : ranks) {
            n += r.kvBytesPerPosition();
        }
        return n;
    }

    /** Bytes of weights one decode step reads on the rank that reads the most (the step waits for it). */
    public long weightBytesPerTokenPerRank() {
        long n = 0;
        for (DecoderModel r : ranks) {
            n = Math.max(n, r.weightBytesPerToken());
        }
        return n;
    }

    @Override
    public synchronized KvBlockPool newKvPool(int blockSize, int maxBlocks) {
        KvBlockPool pool = new KvBlockPool(spec.layers(), spec.kvDim(), blockSize, maxBlocks, false);
        KvShardStorage[] perRank = new KvShardStorage[ranks.length];
        for (int r = 0; r < ranks.length; r++) {
            perRank[r] = new KvShardStorage(spec.layers(), ranks[r].spec().kvDim(), blockSize, maxBlocks);
        }
        storage.put(pool, perRank);
        return pool;
    }

    @Override
    public KvCache newCache(KvBlockPool pool) {
        return new KvCache(pool, spec.contextLength());
    }

    /** A cache of a private pool sized for the whole context (single-sequence use, tests). */
    public KvCache newCache() {
        int blockSize = 16;
        return newCache(newKvPool(blockSize, (spec.contextLength() + blockSize - 1) / blockSize));
    }

    @Override
    public void forward(Batch batch, float[] logits) {
        int n = batch.size();
        if (n == 0) {
            return;
        }
        KvShardStorage[] kv = storageOf(batch);
        ranks[0].prepare(batch, logits);
        allReduce.ensureCapacity(n * spec.hidden());
        threads.run(r -> ranks[r].forwardShard(batch, logits, kv[r]));
    }

    /** The logits are on the heap anyway; the argmax here keeps the runtime's greedy path one code path. */
    @Override
    public boolean forwardGreedy(Batch batch, int[] nextIds) {
        int rows = batch.logitRows();
        int vocab = spec.vocab();
        if (greedyLogits.length < rows * vocab) {
            greedyLogits = new float[rows * vocab];
        }
        forward(batch, greedyLogits);
        ModelRunner.argmaxRows(greedyLogits, rows, vocab, nextIds);
        return true;
    }

    private synchronized KvShardStorage[] storageOf(Batch batch) {
        KvBlockPool pool = batch.cache(0).pool();
        KvShardStorage[] kv = storage.get(pool);
        for (int t = 1; t < batch.size() && kv != null; t++) {
            if (batch.cache(t).pool() != pool) {
                kv = null;
            }
        }
        if (kv == null) {
            throw new IllegalArgumentException("a tensor-parallel forward pass needs every cache of the batch from one KV "
                    + "pool made by this model's newKvPool (each rank stores its own heads of that pool's blocks)");
        }
        return kv;
    }

    @Override
    public void close() throws Exception {
        threads.close();
        for (WorkerPool p : pools) {
            p.close();
        }
        if (resources != null) {
            resources.close();
        }
    }
}
