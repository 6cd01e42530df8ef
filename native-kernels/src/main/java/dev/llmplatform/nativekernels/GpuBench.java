package dev.llmplatform.nativekernels;

import dev.llmplatform.engine.arch.Architectures;
import dev.llmplatform.engine.arch.Batch;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.cpu.KvBlockPool;
import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.DType;
import dev.llmplatform.engine.model.ModelShape;
import dev.llmplatform.engine.model.RandomCheckpoint;
import dev.llmplatform.engine.runtime.EnergyMeter;
import dev.llmplatform.engine.runtime.EnergyStats;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.ShortPointer;

/**
 * The GPU runner's speed, memory and energy on a random-weight checkpoint of a real model's shape (written on the
 * GPU machine if absent, bf16), as the PyTorch peer (gpu/peer.py) measures itself:
 * <pre>
 *   GpuBench SHAPE DIR [BATCH...]     e.g. GpuBench llama-7b /tmp/llama-7b-bf16 1 8 64 256
 * </pre>
 * For each batch size: generations of prompt 128 + 128 new tokens (one prefill of the batch's prompts, then 127
 * greedy decode steps), after a warm-up generation, repeated until 2 s have passed; decode tokens/s (decode steps
 * only), end-to-end tokens/s (new tokens over prefill + decode time, what generate() gives the peer), NVML energy
 * over the timed generations (tokens per joule, watts), device-time cost per million tokens at
 * {@code $PRICE_PER_GPU_HOUR} (default 2.50), GPU memory in use. Variants, side by side in the same run: CUDA graphs
 * with an f32 KV cache (the default), CUDA graphs with a bf16 KV cache, and kernel-by-kernel launches (no graphs,
 * the baseline) at batch 1 and 64; cuBLASLt instead of the GEMV kernel at batch 1 (gemv<=0), the GEMV kernel at
 * batch 8 (gemv<=8), and 16-warp attention blocks at batch 64 (att16w). Then prefill of one 2048-token prompt (tokens/s, model TFLOP/s) and the
 * cuBLASLt GEMMs of its layer shapes alone at 2048 tokens (TFLOP/s against the measured 779 bf16 ceiling).
 * Results also go as JSON lines to {@code $BENCH_JSON} (for gpu/compare.py).
 */
public final class GpuBench {
    static final int PROMPT = 128, NEW_TOKENS = 128;
    static final double MIN_SECONDS = 2.0, H100_BF16_TFLOPS = 779;

    private final GpuLlamaModel gpu;
    private final String shape;
    private final Optional<NvmlEnergyMeter> meter;
    private final double pricePerHour;
    private final Path json;
    private final Random random = new Random(7);
    private CUstream_st stream;

    private GpuBench(GpuLlamaModel gpu, String shape, double pricePerHour, Path json) {
        this.gpu = gpu;
        this.shape = shape;
        this.meter = NvmlEnergyMeter.forCudaDevice(0);
        this.pricePerHour = pricePerHour;
        this.json = json;
    }

    public static void main(String[] args) throws Exception {
        if (!Cuda.available()) {
            System.out.println("FAIL no GPU: " + Cuda.unavailableReason());
            System.exit(1);
        }
        Cuda.init(0);
        String shape = args[0];
        Path dir = Path.of(args[1]);
        int[] batches = args.length > 2
                ? java.util.Arrays.stream(args, 2, args.length).mapToInt(Integer::parseInt).toArray()
                : new int[] {1, 8, 64, 256};
        double price = Double.parseDouble(System.getenv().getOrDefault("PRICE_PER_GPU_HOUR", "2.50"));
        Path json = Path.of(System.getenv().getOrDefault("BENCH_JSON", "/tmp/bench-ours.jsonl"));
        if (!Files.exists(dir.resolve("config.json"))) {
            long t0 = System.nanoTime();
            RandomCheckpoint.write(ModelShape.named(shape), DType.BF16, 1, dir);
            System.out.printf("wrote a random %s bf16 checkpoint in %.1f s%n", shape, (System.nanoTime() - t0) / 1e9);
        }
        System.out.println("device: " + Cuda.deviceName(0));
        try (WorkerPool pool = new WorkerPool(2); DecoderModel cpu = Architectures.load(dir, pool)) {
            long free0 = Cuda.memInfo()[0];
            long t0 = System.nanoTime();
            try (GpuLlamaModel gpu = new GpuLlamaModel(cpu, GpuLlamaModel.Precision.AS_STORED)) {
                System.out.printf("loaded %s onto the GPU in %.1f s: %.2f GB of weights; batch-1 floor at 3.0 TB/s: %.0f tok/s; energy: %s%n",
                        shape, (System.nanoTime() - t0) / 1e9, gpu.weightBytes() / 1e9, 3.0e12 / gpu.weightBytes(),
                        gpu.energyMeter().map(EnergyMeter::describe).orElse("no NVML counter"));
                GpuBench b = new GpuBench(gpu, shape, price, json);
                for (int batch : batches) {
                    b.generation(batch, true, KernelModule.F32, free0);
                    b.generation(batch, true, KernelModule.BF16, free0);
                    b.generation(batch, true, KernelModule.FP8_E4M3, free0);
                    if (batch <= 64 && gpu.programmaticLaunch()) {
                        gpu.setProgrammaticLaunch(false);
                        b.generation(batch, true, KernelModule.F32, free0);
                        b.generation(batch, true, KernelModule.BF16, free0);
                        gpu.setProgrammaticLaunch(true);
                    }
                    if (batch == 1 || batch == 64) {
                        b.generation(batch, false, KernelModule.F32, free0);
                    }
                    if (batch == 1) {
                        gpu.setGemvMaxTokens(0);
                        b.generation(batch, true, KernelModule.F32, free0);
                        gpu.setGemvMaxTokens(1);
                    }
                    if (batch == 8) {
                        gpu.setGemvMaxTokens(8);
                        b.generation(batch, true, KernelModule.F32, free0);
                        gpu.setGemvMaxTokens(1);
                    }
                    if (batch == 64) {
                        KernelModule.attentionWarps = 16;
                        b.generation(batch, true, KernelModule.F32, free0);
                        b.generation(batch, true, KernelModule.BF16, free0);
                        KernelModule.attentionWarps = 0;
                    }
                }
                b.prefill(2048);
                b.gemms(cpu, 2048);
            }
        }
    }

    /** One generation's timings. */
    private record Timing(double prefillSeconds, double decodeSeconds) {
    }

    /** Prefill of {@code batch} random prompts then 127 greedy decode steps, on fresh caches of {@code kv}. */
    private Timing generate(KvBlockPool kv, int batch, int steps) {
        KvCache[] caches = new KvCache[batch];
        int[] next = new int[batch];
        gpu.synchronize();
        long t0 = System.nanoTime();
        int chunk = Math.max(1, 4096 / PROMPT);
        for (int s0 = 0; s0 < batch; s0 += chunk) {
            Batch b = new Batch(chunk * PROMPT);
            int end = Math.min(batch, s0 + chunk);
            for (int s = s0; s < end; s++) {
                caches[s] = gpu.newCache(kv);
                b.addSequence(random.ints(PROMPT, 0, gpu.vocabSize()).toArray(), 0, PROMPT, 0, caches[s], false);
            }
            int[] part = new int[end - s0];
            gpu.forwardGreedy(b, part);
            System.arraycopy(part, 0, next, s0, part.length);
        }
        long t1 = System.nanoTime();
        Batch b = new Batch(batch);
        for (int step = 0; step < steps; step++) {
            b.clear();
            for (int s = 0; s < batch; s++) {
                b.add(next[s], PROMPT + step, caches[s], true);
            }
            gpu.forwardGreedy(b, next);
        }
        gpu.synchronize();
        long t2 = System.nanoTime();
        for (KvCache c : caches) {
            c.release();
        }
        return new Timing((t1 - t0) / 1e9, (t2 - t1) / 1e9);
    }

    private void generation(int batch, boolean graphs, int kvType, long free0) throws IOException {
        gpu.setCudaGraphs(graphs).setKvCacheType(kvType);
        String variant = (graphs ? "graphs" : "no-graphs")
                + (kvType == KernelModule.BF16 ? "+bf16kv" : kvType == KernelModule.FP8_E4M3 ? "+fp8kv" : "+f32kv")
                + (gpu.gemvMaxTokens() == 1 ? "" : "+gemv<=" + gpu.gemvMaxTokens())
                + (KernelModule.attentionWarps == 0 ? "" : "+att" + KernelModule.attentionWarps + "w")
                + (gpu.programmaticLaunch() || Cuda.computeCapability() < 90 ? "" : "+no-pdl");
        KvBlockPool kv = gpu.newKvPool(16, batch * ((PROMPT + NEW_TOKENS + 15) / 16));
        try {
            generate(kv, batch, 8); // warm-up: GEMM plans for these sizes, the bucket's graph captured
            long used = free0 - Cuda.memInfo()[0];
            double j0 = joules();
            double prefill = 0, decode = 0;
            int reps = 0;
            do {
                Timing t = generate(kv, batch, NEW_TOKENS - 1);
                prefill += t.prefillSeconds();
                decode += t.decodeSeconds();
                reps++;
            } while (prefill + decode < MIN_SECONDS);
            double joules = joules() - j0;
            long tokens = (long) reps * batch * NEW_TOKENS;
            double seconds = prefill + decode;
            double decodeTps = (double) reps * batch * (NEW_TOKENS - 1) / decode;
            double e2eTps = tokens / seconds;
            // The runtime's accounting (EnergyStats) gives the same derived figures from the same raw numbers.
            EnergyStats e = new EnergyStats(joules, seconds, tokens, tokens, meter.map(EnergyMeter::describe).orElse("none"));
            System.out.printf(Locale.ROOT, "BENCH %-9s batch %3d %-16s decode %8.0f tok/s (%6.2f ms/step)  e2e %8.0f tok/s  %s  GPU memory %5.1f GB  (%d x %d tokens)%n",
                    shape, batch, variant, decodeTps, decode * 1e3 / reps / (NEW_TOKENS - 1), e2eTps,
                    Double.isNaN(joules) ? "energy n/a" : String.format(Locale.ROOT, "%6.2f tok/J %4.0f W  $%.4f/Mtok", e.generatedTokensPerJoule(), e.watts(), e.costPerMillionTokens(pricePerHour)),
                    used / 1e9, reps, batch * NEW_TOKENS);
            record("{\"engine\":\"ours\",\"shape\":\"%s\",\"batch\":%d,\"variant\":\"%s\",\"decode_tok_s\":%.1f,\"e2e_tok_s\":%.1f,"
                            + "\"tok_per_j\":%.4f,\"watts\":%.1f,\"usd_per_mtok\":%.5f,\"gpu_mem_gb\":%.2f,\"device\":\"%s\"}",
                    shape, batch, variant, decodeTps, e2eTps, e.generatedTokensPerJoule(), e.watts(),
                    e.costPerMillionTokens(pricePerHour), used / 1e9, Cuda.deviceName(0));
        } finally {
            gpu.releaseKvPool(kv);
            gpu.setCudaGraphs(true).setKvCacheType(KernelModule.F32);
        }
    }

    private double joules() {
        gpu.synchronize();
        return meter.map(NvmlEnergyMeter::counterJoules).orElse(Double.NaN);
    }

    /** One prompt of {@code length} tokens in one pass (after a warm-up pass): tokens/s and model TFLOP/s. */
    private void prefill(int length) throws IOException {
        KvBlockPool kv = gpu.newKvPool(16, (length + 15) / 16 + 1);
        try {
            int[] ids = random.ints(length, 0, gpu.vocabSize()).toArray();
            int[] next = new int[1];
            double best = Double.MAX_VALUE;
            for (int rep = 0; rep < 4; rep++) {
                KvCache c = gpu.newCache(kv);
                gpu.synchronize();
                long t0 = System.nanoTime();
                gpu.forwardGreedy(new Batch(length).addSequence(ids, 0, length, 0, c, false), next);
                gpu.synchronize();
                if (rep > 0) {
                    best = Math.min(best, (System.nanoTime() - t0) / 1e9);
                }
                c.release();
            }
            var s = gpu.spec();
            long linear = (long) s.layers() * ((long) s.hidden() * (s.qDim() + 2L * s.kvDim()) + (long) s.qDim() * s.hidden()
                    + 3L * s.hidden() * s.ffn());
            double flops = 2.0 * length * linear + 2.0 * s.hidden() * s.vocab()
                    + 4.0 * s.layers() * s.qDim() * ((double) length * (length + 1) / 2); // causal QK^T and PV
            System.out.printf(Locale.ROOT, "BENCH %-9s prefill %d tokens: %.0f tok/s (%.1f ms), %.0f TFLOP/s over the whole pass (%.0f%% of %.0f)%n",
                    shape, length, length / best, best * 1e3, flops / best / 1e12, 100 * flops / best / 1e12 / H100_BF16_TFLOPS, H100_BF16_TFLOPS);
            record("{\"engine\":\"ours\",\"shape\":\"%s\",\"prefill_tokens\":%d,\"prefill_tok_s\":%.1f,\"prefill_tflops\":%.1f}",
                    shape, length, length / best, flops / best / 1e12);
        } finally {
            gpu.releaseKvPool(kv);
        }
    }

    /** The layer GEMMs alone through cuBLASLt at n tokens (bf16 in, f32 accumulate and out), on random operands. */
    private void gemms(DecoderModel cpu, int n) {
        var s = cpu.spec();
        int[][] shapes = {{s.qDim() + 2 * s.kvDim(), s.hidden()}, {s.hidden(), s.qDim()}, {2 * s.ffn(), s.hidden()}, {s.hidden(), s.ffn()}};
        String[] names = {"qkv", "o", "gate|up", "down"};
        try (CublasLt blas = new CublasLt(gpuStream())) {
            double totalFlops = 0, totalSeconds = 0;
            for (int i = 0; i < shapes.length; i++) {
                int rows = shapes[i][0], cols = shapes[i][1];
                long w = randomBf16((long) rows * cols), in = randomBf16((long) n * cols), out = Cuda.malloc(4L * n * rows);
                blas.gemm(w, KernelModule.BF16, rows, cols, in, n, out);
                Cuda.sync(gpuStream());
                int reps = 20;
                long t0 = System.nanoTime();
                for (int r = 0; r < reps; r++) {
                    blas.gemm(w, KernelModule.BF16, rows, cols, in, n, out);
                }
                Cuda.sync(gpuStream());
                double sec = (System.nanoTime() - t0) / 1e9 / reps;
                double flops = 2.0 * rows * cols * n;
                totalFlops += flops;
                totalSeconds += sec;
                System.out.printf(Locale.ROOT, "BENCH %-9s GEMM %-8s %6d x %5d x n=%d: %.0f TFLOP/s (%.0f%% of %.0f)%n",
                        shape, names[i], rows, cols, n, flops / sec / 1e12, 100 * flops / sec / 1e12 / H100_BF16_TFLOPS, H100_BF16_TFLOPS);
                Cuda.free(w);
                Cuda.free(in);
                Cuda.free(out);
            }
            System.out.printf(Locale.ROOT, "BENCH %-9s GEMMs of one layer at n=%d: %.0f TFLOP/s (%.0f%% of %.0f)%n", shape, n,
                    totalFlops / totalSeconds / 1e12, 100 * totalFlops / totalSeconds / 1e12 / H100_BF16_TFLOPS, H100_BF16_TFLOPS);
        }
    }

    /** The stream of the GEMM measurements (the model's own is private to it). */
    private CUstream_st gpuStream() {
        if (stream == null) {
            stream = Cuda.newStream();
        }
        return stream;
    }

    /** n random bf16 values (uniform, std 0.02 like the checkpoints) on the device. */
    private long randomBf16(long n) {
        short[] host = new short[(int) Math.min(n, 1 << 24)];
        for (int i = 0; i < host.length; i++) {
            host[i] = CpuTwins.floatToBf16((random.nextFloat() * 2 - 1) * 0.0346f);
        }
        long d = Cuda.malloc(2 * n);
        try (ShortPointer p = new ShortPointer(host)) {
            for (long off = 0; off < n; off += host.length) {
                long count = Math.min(host.length, n - off);
                Cuda.copyToDevice(d + 2 * off, p.address(), 2 * count, gpuStream());
            }
            Cuda.sync(gpuStream());
        }
        return d;
    }

    private void record(String format, Object... args) throws IOException {
        Files.writeString(json, String.format(Locale.ROOT, format, args) + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }
}
