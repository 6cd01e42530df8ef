package dev.llmplatform.engine.parallel;

import dev.llmplatform.engine.arch.Architectures;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.arch.ModelWeights;
import dev.llmplatform.engine.arch.TensorShard;
import dev.llmplatform.engine.arch.TransformerSpec;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.ModelConfig;
import dev.llmplatform.engine.model.ModelLoadException;
import dev.llmplatform.engine.model.SafetensorsFile;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.IntFunction;
import tools.jackson.databind.node.ObjectNode;

/** Builds {@link TensorParallelModel}s: by sharding a loaded model, or from a built engine's rank files. */
public final class TensorParallel {

    private TensorParallel() {
    }

    /**
     * Splits {@code full} over {@code ranks} ranks sharing {@code threads} worker threads, from the unchanged
     * checkpoint it was loaded from. The result owns {@code full} (and closes it); the ranks' pieces are copied out
     * of its mapped files once, here.
     *
     * @throws IllegalArgumentException when {@code ranks} does not fit the model's heads, MLP width or quantization
     *                                  groups (the message names the numbers)
     */
    public static TensorParallelModel shard(DecoderModel full, int ranks, int threads) {
        ShardPlan plan = ShardPlan.of(full.spec(), ranks, full.name());
        Arena arena = Arena.ofShared();
        try {
            ModelWeights[] weights = shardWeights(full.weights(), plan, arena);
            return assemble(full.name(), full.spec(), plan, r -> weights[r], threads, () -> {
                try {
                    full.close();
                } finally {
                    arena.close();
                }
            });
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Each rank's weights cut from {@code w} by {@code plan} (the layout {@link #shard} gives its ranks), copied into
     * {@code arena}: for backends that run the ranks themselves, such as the GPU's, which upload them and then close
     * the arena.
     */
    public static ModelWeights[] shardWeights(ModelWeights w, ShardPlan plan, Arena arena) {
        ModelSharder sharder = new ModelSharder(plan, new WeightSlicer(arena));
        ModelWeights[] out = new ModelWeights[plan.ranks()];
        for (int r = 0; r < out.length; r++) {
            out[r] = sharder.shard(w, r);
        }
        return out;
    }

    /** The tensor-parallel size a built engine directory was split for, or 0 when it is not split. */
    public static int builtSize(Path dir) {
        Path config = dir.resolve("config.json");
        if (!Files.isDirectory(dir) || !Files.isRegularFile(config)) {
            return 0;
        }
        RankFiles.Layout layout = RankFiles.layout(ModelConfig.read(config));
        return layout == null ? 0 : layout.size();
    }

    /**
     * Loads an engine directory built with {@code --tp N} at its size: each rank maps only its own rank file. The
     * model's shape comes from config.json; the weights are already in the ranks' layout.
     */
    public static TensorParallelModel loadBuilt(Path dir, int threads) {
        ModelConfig config = ModelConfig.read(dir.resolve("config.json"));
        RankFiles.Layout layout = RankFiles.layout(config);
        if (layout == null) {
            throw new ModelLoadException(config.file() + " has no tensor_parallel section: " + dir + " is not a tensor-parallel engine");
        }
        TransformerSpec spec = Architectures.forModelType(config.modelType(), config.file()).spec(config);
        String name = dir.toAbsolutePath().normalize().getFileName().toString();
        ShardPlan plan = ShardPlan.of(spec, layout.size(), name);
        int groupSize = config.child("quantization_config").intOr(0, "group_size");
        Arena arena = Arena.ofShared();
        try {
            ModelWeights[] weights = new ModelWeights[layout.size()];
            for (int r = 0; r < weights.length; r++) {
                Path file = dir.resolve(layout.files().get(r));
                if (!Files.isRegularFile(file)) {
                    throw new ModelLoadException("rank file " + file + " (listed in " + config.file() + ") does not exist");
                }
                SafetensorsFile f = SafetensorsFile.open(file, arena);
                weights[r] = RankFiles.read(f, plan.rankSpec(spec, r), r, layout.size(), groupSize);
            }
            return assemble(name, spec, plan, r -> weights[r], threads, arena::close);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Writes the rank files of {@code full} split {@code ranks} ways into {@code out}, and their section into
     * {@code config} (the config.json the engine directory gets; see {@link RankFiles}).
     */
    public static void writeRankFiles(DecoderModel full, int ranks, Path out, ObjectNode config) throws IOException {
        ShardPlan plan = ShardPlan.of(full.spec(), ranks, full.name());
        try (Arena arena = Arena.ofConfined()) {
            ModelSharder sharder = new ModelSharder(plan, new WeightSlicer(arena));
            boolean tied = full.weights().lmHead().name().equals(full.weights().tokenEmbedding().name());
            for (int r = 0; r < ranks; r++) {
                RankFiles.write(sharder.shard(full.weights(), r), tied, r, ranks, out.resolve(RankFiles.fileName(r, ranks)));
            }
        }
        RankFiles.addLayout(config, ranks);
    }

    /** Threads per rank: the pool's threads divided among the ranks, at least one each. */
    static int threadsOf(int rank, int ranks, int threads) {
        return Math.max(1, threads / ranks + (rank < threads % ranks ? 1 : 0));
    }

    private static TensorParallelModel assemble(String name, TransformerSpec spec, ShardPlan plan,
                                                IntFunction<ModelWeights> weights, int threads, AutoCloseable resources) {
        int n = plan.ranks();
        RankBarrier barrier = new RankBarrier(n);
        InProcessAllReduce allReduce = new InProcessAllReduce(n, barrier);
        WorkerPool[] pools = new WorkerPool[n];
        DecoderModel[] models = new DecoderModel[n];
        try {
            for (int r = 0; r < n; r++) {
                int rank = r;
                pools[r] = new WorkerPool(threadsOf(r, n, threads));
                TensorShard shard = new TensorShard(r, n, plan.vocabStart(r), plan.vocabEnd(r),
                        (data, length) -> allReduce.sum(rank, data, length));
                models[r] = new DecoderModel(name, plan.rankSpec(spec, r), weights.apply(r), null, pools[r], shard);
            }
        } catch (RuntimeException e) {
            for (WorkerPool p : pools) {
                if (p != null) {
                    p.close();
                }
            }
            throw e;
        }
        return new TensorParallelModel(name, spec, plan, models, pools, new RankThreads(n, barrier), allReduce, resources);
    }
}
