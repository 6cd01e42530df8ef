package dev.llmplatform.nativekernels;

import dev.llmplatform.engine.arch.Architectures;
import dev.llmplatform.engine.arch.Batch;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.arch.ModelRunner;
import dev.llmplatform.engine.cpu.KvBlockPool;
import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.DType;
import dev.llmplatform.engine.model.ModelShape;
import dev.llmplatform.engine.model.RandomCheckpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * Tensor-parallel decode speed on a random-weight checkpoint of a real model's shape, TP=1 and TP=2 side by side in
 * one run:
 * <pre>
 *   TpBench SHAPE DIR [BATCH...]     e.g. TpBench llama-1b /tmp/llama-1b-bf16 1 64
 * </pre>
 * For each batch: prompt 128 (prefilled, not timed) then 127 greedy decode steps, after a warm-up, repeated until
 * {@link #MIN_SECONDS}; decode tokens/s at TP=1 (one GPU, CUDA graphs), at TP=2 over GPUs 0 and 1 through NCCL with
 * CUDA graphs and without, and at TP=2 with the all-reduces left out (wrong results, same kernels otherwise): the
 * difference of the two step times is the all-reduces' share of a step. Then NCCL's all-reduce alone on the step's
 * message ([batch][hidden] f32): time and bus bandwidth (2 (n-1)/n x bytes / time, as nccl-tests reports it).
 * JSON lines to {@code $BENCH_JSON}.
 */
public final class TpBench {
    static final int PROMPT = 128, NEW_TOKENS = 128;
    static final double MIN_SECONDS = 1.5;
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
        String shape = args[0];
        Path dir = Path.of(args[1]);
        int[] batches = args.length > 2 ? Arrays.stream(args, 2, args.length).mapToInt(Integer::parseInt).toArray() : new int[] {1, 64};
        if (!Files.exists(dir.resolve("config.json"))) {
            long t0 = System.nanoTime();
            RandomCheckpoint.write(ModelShape.named(shape), DType.BF16, 1, dir);
            System.out.printf("wrote a random %s bf16 checkpoint in %.1f s%n", shape, (System.nanoTime() - t0) / 1e9);
        }
        Cuda.init(0);
        System.out.println("devices: " + Cuda.deviceName(0) + " | " + Cuda.deviceName(1));
        TpBench b = new TpBench(shape, Path.of(System.getenv().getOrDefault("BENCH_JSON", "/tmp/bench-ours.jsonl")));
        try (WorkerPool pool = new WorkerPool(2); DecoderModel cpu = Architectures.load(dir, pool)) {
            double[] one = new double[batches.length];
            try (GpuLlamaModel gpu = new GpuLlamaModel(cpu, GpuLlamaModel.Precision.AS_STORED)) {
                System.out.printf("TP=1: %.2f GB of weights on GPU 0%n", gpu.weightBytes() / 1e9);
                for (int i = 0; i < batches.length; i++) {
                    one[i] = b.decode(gpu, batches[i], "tp1-graphs");
                }
            }
            long t0 = System.nanoTime();
            try (GpuTensorParallelModel tp = GpuTensorParallelModel.load(cpu, new int[] {0, 1}, GpuLlamaModel.Precision.AS_STORED,
                    GpuTensorParallelModel.AllReduce.NCCL)) {
                System.out.printf("TP=2: split and loaded in %.1f s, %.2f GB of weights per GPU, %s%n", (System.nanoTime() - t0) / 1e9,
                        tp.weightBytesPerRank() / 1e9, tp.allReduceDescription());
                int layers = cpu.spec().layers(), hidden = cpu.spec().hidden();
                for (int i = 0; i < batches.length; i++) {
                    int batch = batches[i];
                    double graphs = b.decode(tp, batch, "tp2-graphs");
                    double eager = b.decode(tp.setCudaGraphs(false), batch, "tp2-no-graphs");
                    tp.setCudaGraphs(true);
                    tp.skipAllReduce(true);
                    double without = b.decode(tp, batch, "tp2-graphs-no-allreduce");
                    tp.skipAllReduce(false);
                    long floats = (long) batch * hidden;
                    double arSeconds = tp.timeAllReduce(floats, 500);
                    double busGBs = 2.0 * (2 - 1) / 2 * 4 * floats / arSeconds / 1e9;
                    double stepMs = 1e3 * batch / graphs, stepWithoutMs = 1e3 * batch / without;
                    double share = (stepMs - stepWithoutMs) / stepMs;
                    double aloneShare = 2 * layers * arSeconds * 1e3 / stepMs;
                    System.out.printf(Locale.ROOT, "TP %-9s batch %3d  TP=2/TP=1 %.2fx (graphs; no graphs %.2fx)  step %.3f ms, without all-reduce %.3f ms:"
                                    + " all-reduce %.1f%% of the step; NCCL alone: %d x %.1f us = %.1f%% of the step, %d B message, bus %.2f GB/s%n",
                            shape, batch, graphs / one[i], eager / one[i], stepMs, stepWithoutMs, 100 * share, 2 * layers, arSeconds * 1e6,
                            100 * aloneShare, 4 * floats, busGBs);
                    b.record("{\"engine\":\"ours\",\"shape\":\"%s\",\"batch\":%d,\"variant\":\"tp2-summary\",\"tp1_tok_s\":%.1f,"
                                    + "\"tp2_tok_s\":%.1f,\"tp2_no_graphs_tok_s\":%.1f,\"tp2_no_allreduce_tok_s\":%.1f,\"speedup\":%.3f,"
                                    + "\"allreduce_share\":%.4f,\"nccl_allreduce_us\":%.2f,\"nccl_bus_gb_s\":%.3f,\"message_bytes\":%d}",
                            shape, batch, one[i], graphs, eager, without, graphs / one[i], share, arSeconds * 1e6, busGBs, 4 * floats);
                }
            }
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
            if (m instanceof GpuLlamaModel g) {
                g.releaseKvPool(kv);
            } else if (m instanceof GpuTensorParallelModel t) {
                t.releaseKvPool(kv);
            }
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
