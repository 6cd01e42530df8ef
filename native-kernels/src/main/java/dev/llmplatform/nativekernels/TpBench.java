package dev.llmplatform.nativekernels;

import dev.llmplatform.engine.arch.Architectures;
import dev.llmplatform.engine.arch.Batch;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.arch.LayerWeights;
import dev.llmplatform.engine.arch.ModelRunner;
import dev.llmplatform.engine.arch.ModelWeights;
import dev.llmplatform.engine.arch.TransformerSpec;
import dev.llmplatform.engine.cpu.KvBlockPool;
import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.DType;
import dev.llmplatform.engine.model.ModelShape;
import dev.llmplatform.engine.model.RandomCheckpoint;
import dev.llmplatform.engine.parallel.ShardPlan;
import dev.llmplatform.engine.parallel.TensorParallel;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import org.bytedeco.cuda.cudart.CUstream_st;

/**
 * Tensor-parallel decode speed on random-weight checkpoints of real models' shapes, in one run:
 * <pre>
 *   TpBench SHAPE DIR [BATCH...]     e.g. TpBench llama-7b /tmp/llama-7b-bf16 1 64
 * </pre>
 * For each batch: prompt 128 (prefilled, not timed) then 127 greedy decode steps, after a warm-up, repeated until
 * {@link #MIN_SECONDS}. At TP=1 (one GPU, CUDA graphs) when the model fits one GPU, then for each TP size of
 * {@code $TP_SIZES} (default 2; at most the GPUs visible): with the one-shot peer all-reduce (small messages; NCCL
 * above 1 MB) and with NCCL alone, graphs on; NCCL without graphs; and with the all-reduces left out (wrong results,
 * same kernels otherwise): the difference of the step times is the all-reduces' share of a step. Then each
 * all-reduce alone on the step's message ([batch][hidden] f32): time and bus bandwidth (2 (n-1)/n x bytes / time,
 * as nccl-tests reports it).
 *
 * <p>A shape over {@link #WHOLE_CHECKPOINT_LIMIT_BYTES} (Llama-2-70B: 138 GB in bf16, more than the GPU machine's disk
 * and than one GPU) is built from a random checkpoint of ONE of its layers: every rank's shard of that layer is
 * uploaded once per layer of the shape, into memory of its own, so the GPUs hold and read every byte that the real
 * model would (the values repeat, which changes no timing). Its floor: weight bytes each rank reads per token
 * (its layers and LM-head slice) over the device's memory bandwidth, measured in the same run by a device-to-device
 * copy ((read + write) bytes / time).
 *
 * <p>Before timing a split model of a shape that also runs at TP=1, its logits are checked against TP=1's (four random
 * 64-token prompts: within bf16 tolerance, the same argmax); a failure makes the run exit 1.
 * JSON lines to {@code $BENCH_JSON}.
 */
public final class TpBench {
    static final int PROMPT = 128, NEW_TOKENS = 128;
    static final double MIN_SECONDS = 1.5;
    static final long WHOLE_CHECKPOINT_LIMIT_BYTES = 40L << 30;
    private final Random random = new Random(7);
    private final String shape;
    private final Path json;

    private TpBench(String shape, Path json) {
        this.shape = shape;
        this.json = json;
    }

    public static void main(String[] args) throws Exception {
        if (!Cuda.available() || Cuda.deviceCount() < 2) {
            System.out.println("FAIL TpBench needs two GPUs: " + (Cuda.available() ? Cuda.deviceCount() + " visible" : Cuda.unavailableReason()));
            System.exit(1);
        }
        String shapeName = args[0];
        Path dir = Path.of(args[1]);
        int[] batches = args.length > 2 ? Arrays.stream(args, 2, args.length).mapToInt(Integer::parseInt).toArray() : new int[] {1, 64};
        int[] sizes = Arrays.stream(System.getenv().getOrDefault("TP_SIZES", "2").trim().split("\\s+")).mapToInt(Integer::parseInt)
                .filter(n -> n <= Cuda.deviceCount()).toArray();
        ModelShape shape = ModelShape.named(shapeName);
        boolean repeated = 2L * shape.parameterCount() > WHOLE_CHECKPOINT_LIMIT_BYTES;
        ModelShape written = repeated ? shape.withLayers(1) : shape;
        if (!Files.exists(dir.resolve("config.json"))) {
            long t0 = System.nanoTime();
            RandomCheckpoint.write(written, DType.BF16, 1, dir);
            System.out.printf("wrote a random %s bf16 checkpoint (%d layer(s)) in %.1f s%n", shapeName, written.layers(),
                    (System.nanoTime() - t0) / 1e9);
        }
        Cuda.init(0);
        StringBuilder names = new StringBuilder();
        for (int d = 0; d < Cuda.deviceCount(); d++) {
            names.append(d == 0 ? "" : " | ").append(Cuda.deviceName(d));
        }
        System.out.println("devices: " + names);
        double bandwidth = deviceBandwidth();
        System.out.printf(Locale.ROOT, "device-to-device copy on GPU 0: %.0f GB/s (read + write)%n", bandwidth / 1e9);
        TpBench b = new TpBench(shapeName, Path.of(System.getenv().getOrDefault("BENCH_JSON", "/tmp/bench-ours.jsonl")));
        try (WorkerPool pool = new WorkerPool(2); DecoderModel cpu = Architectures.load(dir, pool)) {
            double[] one = new double[batches.length];
            float[] tp1Logits = null;
            if (!repeated) {
                try (GpuLlamaModel gpu = new GpuLlamaModel(cpu, GpuLlamaModel.Precision.AS_STORED)) {
                    System.out.printf("TP=1: %.2f GB of weights on GPU 0%n", gpu.weightBytes() / 1e9);
                    tp1Logits = probeLogits(gpu);
                    for (int i = 0; i < batches.length; i++) {
                        one[i] = b.decode(gpu, batches[i], "tp1-graphs");
                    }
                }
            }
            for (int n : sizes) {
                int[] devices = java.util.stream.IntStream.range(0, n).toArray();
                for (GpuTensorParallelModel.AllReduce reduce : new GpuTensorParallelModel.AllReduce[] {
                        GpuTensorParallelModel.AllReduce.PEER, GpuTensorParallelModel.AllReduce.NCCL}) {
                    long t0 = System.nanoTime();
                    try (GpuTensorParallelModel tp = repeated ? loadRepeated(cpu, shape.layers(), devices, reduce)
                            : GpuTensorParallelModel.load(cpu, devices, GpuLlamaModel.Precision.AS_STORED, reduce)) {
                        System.out.printf("TP=%d: split and loaded in %.1f s, %.2f GB of weights per GPU, %s%n", n, (System.nanoTime() - t0) / 1e9,
                                tp.weightBytesPerRank() / 1e9, tp.allReduceDescription());
                        if (tp1Logits != null) {
                            compareLogits(tp, tp1Logits, "TP=" + n + " (" + reduce.name().toLowerCase(Locale.ROOT) + ")");
                        }
                        b.runTp(tp, n, reduce, batches, one, bandwidth, repeated);
                    }
                }
            }
        }
        if (failures > 0) {
            System.exit(1);
        }
    }

    private static int failures;

    /**
     * The next-token logits of four random 64-token prompts, prefilled in one batch (bf16 GEMMs, f32 KV): what a
     * split model must reproduce within bf16 tolerance, its ranks summing partial products in another order.
     */
    static float[] probeLogits(ModelRunner m) {
        Random r = new Random(99);
        KvBlockPool kv = m.newKvPool(16, 4 * 5);
        try {
            Batch b = new Batch(4 * 64);
            KvCache[] caches = new KvCache[4];
            for (int s = 0; s < 4; s++) {
                caches[s] = m.newCache(kv);
                b.addSequence(r.ints(64, 0, m.vocabSize()).toArray(), 0, 64, 0, caches[s], false);
            }
            float[] logits = new float[4 * m.vocabSize()];
            m.forward(b, logits);
            for (KvCache c : caches) {
                c.release();
            }
            return logits;
        } finally {
            releaseKvPool(m, kv);
        }
    }

    /** Frees a pool's device arenas (the runners' own method; ModelRunner has none). */
    private static void releaseKvPool(ModelRunner m, KvBlockPool kv) {
        if (m instanceof GpuLlamaModel g) {
            g.releaseKvPool(kv);
        } else if (m instanceof GpuTensorParallelModel t) {
            t.releaseKvPool(kv);
        }
    }

    /** The split model's probe logits against TP=1's: within 2e-2 of the largest (bf16 activations), same argmax. */
    private static void compareLogits(GpuTensorParallelModel tp, float[] tp1, String what) {
        float[] got = probeLogits(tp);
        double rel = GraphChecks.relDiff(got, tp1);
        int vocab = tp.vocabSize(), same = 0;
        int[] a = CpuTwins.argmax(got, vocab), e = CpuTwins.argmax(tp1, vocab);
        for (int i = 0; i < a.length; i++) {
            same += a[i] == e[i] ? 1 : 0;
        }
        boolean ok = rel <= 2e-2 && same == a.length;
        failures += ok ? 0 : 1;
        System.out.printf(Locale.ROOT, "%s %s logits vs TP=1, 4 random 64-token prompts: max rel diff %.2e (tol 2e-2), argmax %d/%d equal%n",
                ok ? "PASS" : "FAIL", what, rel, same, a.length);
    }

    private void runTp(GpuTensorParallelModel tp, int n, GpuTensorParallelModel.AllReduce reduce, int[] batches, double[] one,
                       double bandwidth, boolean noTp1) throws Exception {
        String tag = "tp" + n + "-" + reduce.name().toLowerCase(Locale.ROOT);
        int layers = tp.spec().layers(), hidden = tp.spec().hidden();
        // Bytes a rank reads per decode token: its weights but the embedding (only the batch's rows are gathered).
        long embeddingBytes = 2L * tp.spec().vocab() * hidden;
        double bytesPerToken = tp.weightBytesPerRank() - embeddingBytes;
        for (int i = 0; i < batches.length; i++) {
            int batch = batches[i];
            double graphs = decode(tp, batch, tag + "-graphs");
            double eager = -1, without = -1, unfused = -1, pdl = -1;
            if (reduce == GpuTensorParallelModel.AllReduce.PEER) {
                // Each decode() runs on a pool of its own, whose graphs are captured afresh and dropped with it.
                PeerAllReduceGroup.fuseAddRmsnorm = false;
                unfused = decode(tp, batch, tag + "-graphs-unfused");
                PeerAllReduceGroup.fuseAddRmsnorm = true;
                pdl = decode(tp.setProgrammaticLaunch(false), batch, tag + "-graphs-no-pdl");
                tp.setProgrammaticLaunch(true);
            }
            if (reduce == GpuTensorParallelModel.AllReduce.NCCL) {
                eager = decode(tp.setCudaGraphs(false), batch, tag + "-no-graphs");
                tp.setCudaGraphs(true);
                tp.skipAllReduce(true);
                without = decode(tp, batch, tag + "-graphs-no-allreduce");
                tp.skipAllReduce(false);
            }
            long floats = (long) batch * hidden;
            double arSeconds = tp.timeAllReduce(floats, 500);
            double busGBs = 2.0 * (n - 1) / n * 4 * floats / arSeconds / 1e9;
            double stepMs = 1e3 * batch / graphs;
            double aloneShare = 2 * layers * arSeconds * 1e3 / stepMs;
            // The copy moves (read + write) bytes at `bandwidth`: the rate at which the device's memory serves bytes,
            // which is what a decode step's weight reads draw on (the README's ~3.0 TB/s floor).
            double floorTokS = batch * bandwidth / bytesPerToken;
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "TP %-9s %-10s batch %3d  %.0f tok/s, step %.3f ms", shape, tag,
                    batch, graphs, stepMs));
            if (!noTp1) {
                line.append(String.format(Locale.ROOT, ", TP=%d/TP=1 %.2fx", n, graphs / one[i]));
            }
            if (unfused > 0) {
                line.append(String.format(Locale.ROOT, " (all-reduce and add+RMSNorm unfused: %.0f tok/s; without programmatic launch: %.0f tok/s, %.2fx TP=1)",
                        unfused, pdl, noTp1 ? Double.NaN : pdl / one[i]));
            }
            if (eager > 0) {
                double stepWithoutMs = 1e3 * batch / without;
                line.append(String.format(Locale.ROOT, " (no graphs %.0f tok/s); without all-reduce %.3f ms: all-reduce %.1f%% of the step",
                        eager, stepWithoutMs, 100 * (stepMs - stepWithoutMs) / stepMs));
            }
            line.append(String.format(Locale.ROOT, "; all-reduce alone: %d x %.1f us = %.1f%% of the step, %d B message, bus %.2f GB/s",
                    2 * layers, arSeconds * 1e6, 100 * aloneShare, 4 * floats, busGBs));
            if (batch == 1) {
                line.append(String.format(Locale.ROOT, "; %.2f GB read per rank per token: floor %.0f tok/s at %.0f GB/s, %.1f%% of it",
                        bytesPerToken / 1e9, floorTokS, bandwidth / 1e9, 100 * graphs / floorTokS));
            }
            System.out.println(line);
            record("{\"engine\":\"ours\",\"shape\":\"%s\",\"batch\":%d,\"variant\":\"%s-summary\",\"tp\":%d,\"allreduce\":\"%s\","
                            + "\"tp1_tok_s\":%.1f,\"tp_tok_s\":%.1f,\"tp_no_graphs_tok_s\":%.1f,\"tp_no_allreduce_tok_s\":%.1f,"
                            + "\"allreduce_us\":%.2f,\"bus_gb_s\":%.3f,\"message_bytes\":%d,\"bytes_per_rank_token\":%.0f,"
                            + "\"copy_bandwidth_gb_s\":%.1f,\"floor_tok_s\":%.1f}",
                    shape, batch, tag, n, reduce.name(), noTp1 ? -1 : one[i], graphs, eager, without, arSeconds * 1e6, busGBs, 4 * floats,
                    bytesPerToken, bandwidth / 1e9, floorTokS);
        }
    }

    /**
     * The shape's {@code layers} layers over {@code devices}, each rank's layers all cut from the checkpoint's one
     * layer (see the class comment).
     */
    private static GpuTensorParallelModel loadRepeated(DecoderModel oneLayer, int layers, int[] devices,
                                                       GpuTensorParallelModel.AllReduce reduce) {
        TransformerSpec s1 = oneLayer.spec();
        float[] scale = null;
        if (s1.attentionScale() != null) {
            scale = new float[layers];
            Arrays.fill(scale, s1.attentionScale()[0]);
        }
        TransformerSpec spec = new TransformerSpec(s1.hidden(), layers, s1.heads(), s1.kvHeads(), s1.headDim(), s1.ffn(), s1.vocab(),
                s1.contextLength(), s1.norm(), s1.rope(), s1.alibiSlopes(), s1.alibiScaledWithScores(), scale, s1.slidingWindow(),
                s1.clipQkv(), s1.parallelResidual(), s1.residualFromNorm(), s1.gatedMlp(), s1.activation());
        ShardPlan plan = ShardPlan.of(spec, devices.length, oneLayer.name());
        try (Arena arena = Arena.ofShared()) {
            ModelWeights[] shards = TensorParallel.shardWeights(oneLayer.weights(), plan, arena);
            ModelWeights[] rankWeights = new ModelWeights[devices.length];
            for (int r = 0; r < devices.length; r++) {
                ModelWeights w = shards[r];
                LayerWeights[] repeatedLayers = new LayerWeights[layers];
                Arrays.fill(repeatedLayers, w.layers()[0]);
                rankWeights[r] = new ModelWeights(oneLayer.weights().tokenEmbedding(), w.positionEmbedding(), w.embeddingNormWeight(),
                        w.embeddingNormBias(), repeatedLayers, w.finalNormWeight(), w.finalNormBias(), w.lmHead(), w.lmHeadBias());
            }
            return GpuTensorParallelModel.loadShards(oneLayer.name(), spec, plan, rankWeights, devices, GpuLlamaModel.Precision.AS_STORED, reduce);
        }
    }

    /** GPU 0's device-to-device copy bandwidth, (read + write) bytes per second, over 1 GiB copies. */
    private static double deviceBandwidth() {
        long bytes = 1L << 30;
        CUstream_st stream = Cuda.newStream();
        long a = Cuda.malloc(bytes), c = Cuda.malloc(bytes);
        try {
            Cuda.copyDevice(c, a, bytes, stream);
            Cuda.sync(stream);
            int reps = 20;
            long t0 = System.nanoTime();
            for (int i = 0; i < reps; i++) {
                Cuda.copyDevice(c, a, bytes, stream);
            }
            Cuda.sync(stream);
            return 2.0 * bytes * reps / ((System.nanoTime() - t0) / 1e9);
        } finally {
            Cuda.free(a);
            Cuda.free(c);
        }
    }

    /** Decode tokens/s at {@code batch} (prompts prefilled untimed), after a warm-up generation. */
    double decode(ModelRunner m, int batch, String variant) throws Exception {
        KvBlockPool kv = m.newKvPool(16, batch * ((PROMPT + NEW_TOKENS + 15) / 16));
        try {
            generate(m, kv, batch, 8);
            double seconds = 0;
            int reps = 0;
            do {
                seconds += generate(m, kv, batch, NEW_TOKENS - 1);
                reps++;
            } while (seconds < MIN_SECONDS);
            double tps = (double) reps * batch * (NEW_TOKENS - 1) / seconds;
            System.out.printf(Locale.ROOT, "BENCH %-9s batch %3d %-24s decode %8.0f tok/s (%6.3f ms/step, %d x %d steps)%n",
                    shape, batch, variant, tps, seconds * 1e3 / reps / (NEW_TOKENS - 1), reps, NEW_TOKENS - 1);
            record("{\"engine\":\"ours\",\"shape\":\"%s\",\"batch\":%d,\"variant\":\"%s\",\"decode_tok_s\":%.1f,\"device\":\"%s\"}",
                    shape, batch, variant, tps, Cuda.deviceName(0));
            return tps;
        } finally {
            releaseKvPool(m, kv);
        }
    }

    /** Prefills {@code batch} random prompts, then times {@code steps} decode steps; returns their seconds. */
    private double generate(ModelRunner m, KvBlockPool kv, int batch, int steps) {
        KvCache[] caches = new KvCache[batch];
        int[] next = new int[batch];
        int chunk = Math.max(1, 4096 / PROMPT);
        for (int s0 = 0; s0 < batch; s0 += chunk) {
            int end = Math.min(batch, s0 + chunk);
            Batch b = new Batch(chunk * PROMPT);
            for (int s = s0; s < end; s++) {
                caches[s] = m.newCache(kv);
                b.addSequence(random.ints(PROMPT, 0, m.vocabSize()).toArray(), 0, PROMPT, 0, caches[s], false);
            }
            int[] part = new int[end - s0];
            m.forwardGreedy(b, part);
            System.arraycopy(part, 0, next, s0, part.length);
        }
        Batch b = new Batch(batch);
        long t0 = System.nanoTime();
        for (int step = 0; step < steps; step++) {
            b.clear();
            for (int s = 0; s < batch; s++) {
                b.add(next[s], PROMPT + step, caches[s], true);
            }
            m.forwardGreedy(b, next); // returns after the device is done (ids copied back)
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        for (KvCache c : caches) {
            c.release();
        }
        return seconds;
    }

    private void record(String format, Object... args) throws Exception {
        Files.writeString(json, String.format(Locale.ROOT, format, args) + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }
}
