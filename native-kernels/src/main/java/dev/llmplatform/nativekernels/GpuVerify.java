package dev.llmplatform.nativekernels;

import dev.llmplatform.engine.runtime.EngineRuntime;
import dev.llmplatform.engine.runtime.GenerationEvent;
import dev.llmplatform.engine.runtime.GenerationRequest;
import dev.llmplatform.engine.runtime.RequestHandle;
import dev.llmplatform.engine.runtime.RuntimeConfig;
import dev.llmplatform.engine.runtime.RuntimeStats;
import dev.llmplatform.engine.runtime.SamplingParams;
import dev.llmplatform.engine.runtime.StopConditions;
import dev.llmplatform.engine.arch.Architectures;
import dev.llmplatform.engine.arch.Batch;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.arch.LayerWeights;
import dev.llmplatform.engine.arch.ModelWeights;
import dev.llmplatform.engine.arch.TransformerSpec;
import dev.llmplatform.engine.cpu.KvBlockPool;
import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.cpu.RotaryEmbedding;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.SafetensorsFile;
import dev.llmplatform.engine.model.Tensor;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.ShortPointer;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The GPU checks gpu/verify.sh runs on the GPU machine, printing one line per check ("PASS"/"FAIL" and the
 * numbers) and exiting 1 if any failed:
 * <ul>
 *   <li>{@code kernels}: every kernel and the cuBLASLt GEMM against its CPU twin ({@link CpuTwins}) on random inputs,
 *       the variants of every family included (LayerNorm, parallel-residual adds, GELU, interleaved and partial
 *       rotary, clip_qkv, ALiBi, learned positions, LM-head bias, the Conv1D transpose);</li>
 *   <li>{@code fixture DIR...}: hf-tiny checkpoints of any family: whole-prompt logits against transformers' (1e-3
 *       relative to the largest logit) and the CPU engine's, token by token through the paged cache, greedy
 *       continuation ids identical, and decode steps captured as CUDA graphs;</li>
 *   <li>{@code kjv DIR}: the six greedy continuations of reference.json, the six sequences batched together
 *       (prefill in one batch, then decode steps of six), in both precisions;</li>
 *   <li>{@code runtime DIR}, {@code serving DIR N}: the runner under the engine's runtime;</li>
 *   <li>{@code sampling [DIR]}: the GPU sampler ({@code sample_rows}) against the engine's SamplingRule, identical ids
 *       on random rows, in a CUDA graph, timed beside argmax_rows; with DIR, forwardSampled on a model's decode
 *       steps ({@link SamplingChecks});</li>
 *   <li>{@code graphs DIR}: CUDA-graph decode steps (padded to buckets) against kernel-by-kernel ones
 *       ({@link GraphChecks});</li>
 *   <li>{@code leak DIR N}, {@code energy DIR}: device memory across N requests with cancellations, and NVML energy
 *       through the runtime ({@link RuntimeChecks}).</li>
 * </ul>
 * Speed is {@link GpuBench}'s.
 */
public final class GpuVerify {
    static int failures;
    private static final Random RNG = new Random(42);

    public static void main(String[] args) throws Exception {
        if (!Cuda.available()) {
            System.out.println("FAIL no GPU: " + Cuda.unavailableReason());
            System.exit(1);
        }
        Cuda.init(0);
        System.out.println("device: " + Cuda.deviceName(0));
        switch (args[0]) {
            case "kernels" -> kernels();
            case "fixture" -> {
                for (int i = 1; i < args.length; i++) {
                    fixture(Path.of(args[i]));
                }
            }
            case "kjv" -> kjv(Path.of(args[1]));
            case "runtime" -> runtime(Path.of(args[1]));
            case "serving" -> serving(Path.of(args[1]), Integer.parseInt(args[2]));
            case "graphs" -> failures += GraphChecks.run(Path.of(args[1]));
            case "sampling" -> failures += SamplingChecks.run(args.length > 1 ? Path.of(args[1]) : null);
            case "leak" -> failures += RuntimeChecks.leak(Path.of(args[1]), Integer.parseInt(args[2]));
            case "energy" -> failures += RuntimeChecks.energy(Path.of(args[1]));
            case "tp" -> TpChecks.run(args[1], Arrays.stream(args, 3, args.length).map(Path::of).toList(), Path.of(args[2]));
            default -> throw new IllegalArgumentException("unknown section " + args[0]);
        }
        System.out.println(failures == 0 ? "ALL PASS (" + args[0] + ")" : failures + " FAILED (" + args[0] + ")");
        System.exit(failures == 0 ? 0 : 1);
    }

    static void check(String what, float[] gpu, float[] cpu, double relTol) {
        double maxAbs = 0;
        double maxRef = 0;
        boolean nan = false;
        for (int i = 0; i < cpu.length; i++) {
            nan |= Float.isNaN(gpu[i]);
            maxAbs = Math.max(maxAbs, Math.abs(gpu[i] - cpu[i]));
            maxRef = Math.max(maxRef, Math.abs(cpu[i]));
        }
        double rel = maxAbs / Math.max(maxRef, 1e-30);
        boolean ok = !nan && rel <= relTol;
        failures += ok ? 0 : 1;
        System.out.printf("%s %-58s max|gpu-cpu| %.3e  rel %.3e  (tol %.0e, n=%d)%n", ok ? "PASS" : "FAIL", what, maxAbs, rel, relTol, cpu.length);
    }

    static void checkInts(String what, int[] gpu, int[] cpu) {
        boolean ok = Arrays.equals(gpu, cpu);
        failures += ok ? 0 : 1;
        System.out.printf("%s %-58s %s%n", ok ? "PASS" : "FAIL", what, ok ? "identical (" + cpu.length + ")" : "gpu " + Arrays.toString(gpu) + " vs " + Arrays.toString(cpu));
    }

    // ---- device helpers (synchronous; tests only) ----
    static CUstream_st stream;
    static KernelModule k;

    static long up(float[] a) {
        long d = Cuda.malloc(4L * a.length);
        try (FloatPointer p = new FloatPointer(a)) {
            Cuda.copyToDevice(d, p.address(), 4L * a.length, stream);
            Cuda.sync(stream);
        }
        return d;
    }

    static long up(int[] a) {
        long d = Cuda.malloc(4L * a.length);
        try (IntPointer p = new IntPointer(a)) {
            Cuda.copyToDevice(d, p.address(), 4L * a.length, stream);
            Cuda.sync(stream);
        }
        return d;
    }

    static long upBf16(float[] a) {
        short[] s = new short[a.length];
        for (int i = 0; i < a.length; i++) {
            s[i] = CpuTwins.floatToBf16(a[i]);
        }
        return upShorts(s);
    }

    /** 16-bit values (bf16 or f16 bit patterns) into fresh device memory. */
    private static long upShorts(short[] s) {
        long d = Cuda.malloc(2L * s.length);
        try (ShortPointer p = new ShortPointer(s)) {
            Cuda.copyToDevice(d, p.address(), 2L * s.length, stream);
            Cuda.sync(stream);
        }
        return d;
    }

    static float[] down(long d, int n) {
        float[] out = new float[n];
        try (FloatPointer p = new FloatPointer(n)) {
            Cuda.copyToHost(p.address(), d, 4L * n, stream);
            Cuda.sync(stream);
            p.get(out);
        }
        return out;
    }

    static float[] downAs(long d, int type, int n) {
        if (type == KernelModule.F32) {
            return down(d, n);
        }
        if (type == KernelModule.FP8_E4M3) {
            try (org.bytedeco.javacpp.BytePointer p = new org.bytedeco.javacpp.BytePointer(n)) {
                Cuda.copyToHost(p.address(), d, n, stream);
                Cuda.sync(stream);
                float[] out = new float[n];
                for (int i = 0; i < n; i++) {
                    out[i] = CpuTwins.e4m3ToFloat(p.get(i));
                }
                return out;
            }
        }
        long tmp = Cuda.malloc(4L * n);
        k.convert(d, type, tmp, KernelModule.F32, n);
        float[] out = down(tmp, n);
        Cuda.free(tmp);
        return out;
    }

    static int[] downInts(long d, int n) {
        int[] out = new int[n];
        try (IntPointer p = new IntPointer(n)) {
            Cuda.copyToHost(p.address(), d, 4L * n, stream);
            Cuda.sync(stream);
            p.get(out);
        }
        return out;
    }

    static float[] rand(int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) RNG.nextGaussian() * scale;
        }
        return a;
    }

    static float[] bf16(float[] a) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = CpuTwins.roundBf16(a[i]);
        }
        return r;
    }

    /** Runs the kernel-vs-twin checks (the GPU test calls this); returns how many failed. */
    static int runKernelChecks() {
        int before = failures;
        kernels();
        return failures - before;
    }

    // ---- kernels vs twins ----
    static void kernels() {
        stream = Cuda.newStream();
        k = new KernelModule(stream);
        CublasLt blas = new CublasLt(stream);
        String[] typeName = {"f32", "bf16"};

        // embed_gather
        for (int type : new int[] {KernelModule.F32, KernelModule.BF16}) {
            int vocab = 300, hidden = 96;
            float[] table = rand(vocab * hidden, 1f);
            if (type == KernelModule.BF16) {
                table = bf16(table);
            }
            int[] tokens = RNG.ints(17, 0, vocab).toArray();
            long dT = type == KernelModule.F32 ? up(table) : upBf16(table);
            long dTok = up(tokens);
            long dX = Cuda.malloc(4L * tokens.length * hidden);
            k.embedGather(dX, dT, type, dTok, hidden, tokens.length);
            check("embed_gather table " + typeName[type], down(dX, tokens.length * hidden), CpuTwins.embedGather(table, tokens, hidden), 0);
        }

        // embed_gather with learned position rows (GPT-2, MPT): f32 tokens + bf16 positions, and both f32
        {
            int vocab = 300, ctx = 64, hidden = 96;
            float[] table = rand(vocab * hidden, 1f);
            for (int posType : new int[] {KernelModule.F32, KernelModule.BF16}) {
                float[] posTable = rand(ctx * hidden, 1f);
                if (posType == KernelModule.BF16) {
                    posTable = bf16(posTable);
                }
                int[] tokens = RNG.ints(17, 0, vocab).toArray();
                int[] pos = RNG.ints(17, 0, ctx).toArray();
                long dT = up(table), dP = posType == KernelModule.F32 ? up(posTable) : upBf16(posTable);
                long dTok = up(tokens), dPos = up(pos), dX = Cuda.malloc(4L * tokens.length * hidden);
                k.embedGather(dX, dT, KernelModule.F32, dTok, hidden, dP, posType, dPos, tokens.length);
                check("embed_gather + position rows " + typeName[posType], down(dX, tokens.length * hidden),
                        CpuTwins.embedGather(table, tokens, hidden, posTable, pos), 0);
                for (long d : new long[] {dT, dP, dTok, dPos, dX}) {
                    Cuda.free(d);
                }
            }
        }

        addNormChecks();

        // add_rmsnorm, all rows with write-back, and the final-norm form (row map, no write-back)
        for (int type : new int[] {KernelModule.F32, KernelModule.BF16}) {
            int n = 7, hidden = 320;
            float[] x = rand(n * hidden, 2f), delta = rand(n * hidden, 1f), bias = rand(hidden, 0.1f), w = rand(hidden, 1f);
            long dx = up(x), dd = up(delta), db = up(bias), dw = up(w);
            long dOut = Cuda.malloc(4L * n * hidden);
            k.addRmsnorm(dx, dd, db, dw, dOut, type, 0, hidden, 1e-5f, true, n);
            float[] xCpu = x.clone();
            float[] ref = CpuTwins.addRmsnorm(xCpu, delta, bias, w, hidden, 1e-5f, type == KernelModule.BF16);
            check("add_rmsnorm out " + typeName[type], downAs(dOut, type, n * hidden), ref, type == KernelModule.F32 ? 1e-5 : 8e-3);
            check("add_rmsnorm residual write-back", down(dx, n * hidden), xCpu, 1e-6);
            int[] rows = {6, 2};
            float[] x2 = rand(n * hidden, 2f);
            long dx2 = up(x2), dRows = up(rows);
            k.addRmsnorm(dx2, dd, 0, dw, dOut, KernelModule.F32, dRows, hidden, 1e-5f, false, rows.length);
            float[] sel = new float[rows.length * hidden], selD = new float[rows.length * hidden];
            for (int r = 0; r < rows.length; r++) {
                System.arraycopy(x2, rows[r] * hidden, sel, r * hidden, hidden);
                System.arraycopy(delta, rows[r] * hidden, selD, r * hidden, hidden);
            }
            if (type == KernelModule.F32) {
                check("add_rmsnorm final form (row map, no write-back)", down(dOut, rows.length * hidden),
                        CpuTwins.addRmsnorm(sel, selD, null, w, hidden, 1e-5f, false), 1e-5);
                check("add_rmsnorm final form leaves x alone", down(dx2, n * hidden), x2, 0);
            }
        }

        // bias_rope_qk
        {
            int heads = 8, kvHeads = 2, hd = 64, n = 9;
            int width = (heads + 2 * kvHeads) * hd;
            float[] inv = new float[hd / 2];
            for (int i = 0; i < inv.length; i++) {
                inv[i] = (float) (1.0 / Math.pow(500000.0, 2.0 * i / hd));
            }
            RotaryEmbedding rope = new RotaryEmbedding(inv, 1f, false);
            float[] qkv = rand(n * width, 1f), bias = rand(width, 0.1f);
            int[] pos = RNG.ints(n, 0, 8000).toArray();
            long dq = up(qkv), db = up(bias), dp = up(pos), di = up(inv);
            k.biasRopeQk(dq, db, dp, di, 1f, heads, kvHeads, hd, hd / 2, n);
            CpuTwins.biasRopeQk(qkv, bias, pos, rope, heads, kvHeads, hd);
            check("bias_rope_qk (rotate-half, positions < 8000)", down(dq, n * width), qkv, 2e-6);
        }
        // The other rotary forms: interleaved (GPT-J) and rotate-half over part of the head (GPT-J's rotary_dim, NeoX),
        // with MQA (one KV head, Falcon-7B) and clip_qkv (MPT, no rotary), biases or not.
        ropeCase("interleaved, rotary 32 of 64", 64, 16, true, 0f, true);
        ropeCase("interleaved, rotary 8 of 16 (the gptj fixture's)", 16, 4, true, 0f, false);
        ropeCase("rotate-half, rotary 16 of 64", 64, 8, false, 0f, true);
        ropeCase("clip_qkv 0.5, no rotary", 64, 0, false, 0.5f, true);
        ropeCase("clip_qkv 0.7, interleaved rotary 32 of 64", 64, 16, true, 0.7f, false);

        // kv_cache_write + paged_attention, GQA, variable lengths, decode tokens and a prefill chunk, window or not
        // (64 and 128 take the vector-load kernel, 40 the generic one)
        for (int hd : new int[] {64, 128, 40}) {
            for (int window : new int[] {0, 50}) {
                for (int type : new int[] {KernelModule.F32, KernelModule.BF16}) {
                    for (int kvType : new int[] {KernelModule.F32, KernelModule.BF16, KernelModule.FP8_E4M3}) {
                        attentionCase(hd, window, type, kvType, false);
                    }
                }
            }
        }
        // ALiBi (BLOOM, MPT; Falcon's scaled slopes are the same kernel): the vector-load bodies (64, 128, 256) and
        // the generic one (16, the fixtures' head dim; 40), with and without a window, both caches
        for (int hd : new int[] {64, 128, 256, 16, 40}) {
            for (int window : new int[] {0, 50}) {
                for (int kvType : new int[] {KernelModule.F32, KernelModule.BF16, KernelModule.FP8_E4M3}) {
                    attentionCase(hd, window, KernelModule.F32, kvType, true);
                }
            }
        }

        // bias_act: every activation, plain (GPT-2 ... BLOOM) and gated, f32 and bf16 out
        for (TransformerSpec.Activation a : TransformerSpec.Activation.values()) {
            for (boolean gated : new boolean[] {false, true}) {
                for (int type : new int[] {KernelModule.F32, KernelModule.BF16}) {
                    int n = 5, ffn = 300, w = gated ? 2 * ffn : ffn;
                    float[] in = rand(n * w, 2f), bias = rand(w, 0.1f);
                    long di = up(in), db = up(bias), dOut = Cuda.malloc(4L * n * ffn);
                    k.biasAct(di, db, dOut, type, ffn, a.ordinal(), gated, n);
                    float[] ref = CpuTwins.biasAct(in, bias, ffn, a, gated);
                    check("bias_act " + a + (gated ? " gated" : " plain") + " out " + typeName[type], downAs(dOut, type, n * ffn),
                            type == KernelModule.BF16 ? bf16(ref) : ref, type == KernelModule.F32 ? 1e-6 : 8e-3);
                    if (!gated && type == KernelModule.F32) {
                        k.biasAct(di, 0, dOut, type, ffn, a.ordinal(), false, n);
                        check("bias_act " + a + " plain, no bias", down(dOut, n * ffn), CpuTwins.biasAct(in, null, ffn, a, false), 1e-6);
                    }
                    for (long d : new long[] {di, db, dOut}) {
                        Cuda.free(d);
                    }
                }
            }
        }

        // add_bias_rows (GPT-J's LM-head bias) over a vocabulary row that is not a multiple of the block
        {
            int rows = 3, cols = 50400 + 3;
            float[] y = rand(rows * cols, 3f), bias = rand(cols, 1f);
            long dy = up(y), db = up(bias);
            k.addBiasRows(dy, db, cols, rows);
            check("add_bias_rows (LM-head bias, 3 x 50403)", down(dy, rows * cols), CpuTwins.addBias(y, bias), 0);
            Cuda.free(dy);
            Cuda.free(db);
        }

        // transpose_convert (GPT-2's Conv1D weights at load): f32 -> f32, bf16 -> bf16, f32 -> bf16, f16 -> f32
        for (int[] tt : new int[][] {{KernelModule.F32, KernelModule.F32}, {KernelModule.BF16, KernelModule.BF16},
                {KernelModule.F32, KernelModule.BF16}, {KernelModule.F16, KernelModule.F32}}) {
            int rows = 301, cols = 77;
            float[] in = rand(rows * cols, 1f);
            in = tt[0] == KernelModule.BF16 ? bf16(in) : tt[0] == KernelModule.F16 ? f16(in) : in;
            long di = tt[0] == KernelModule.F32 ? up(in) : tt[0] == KernelModule.BF16 ? upBf16(in) : upF16(in);
            long dOut = Cuda.malloc(4L * rows * cols);
            k.transpose(di, tt[0], dOut, tt[1], rows, cols);
            float[] ref = CpuTwins.transpose(in, rows, cols);
            check("transpose_convert " + TYPE_NAMES[tt[0]] + " -> " + TYPE_NAMES[tt[1]] + " (301 x 77)", downAs(dOut, tt[1], rows * cols),
                    tt[1] == KernelModule.BF16 ? bf16(ref) : ref, 0);
            Cuda.free(di);
            Cuda.free(dOut);
        }

        // swiglu
        for (int type : new int[] {KernelModule.F32, KernelModule.BF16}) {
            int n = 5, ffn = 300;
            float[] gu = rand(n * 2 * ffn, 2f), bias = rand(2 * ffn, 0.1f);
            long dg = up(gu), db = up(bias), dOut = Cuda.malloc(4L * n * ffn);
            k.swiglu(dg, db, dOut, type, ffn, n);
            float[] ref = CpuTwins.swiglu(gu, bias, ffn);
            check("swiglu out " + typeName[type], downAs(dOut, type, n * ffn), type == KernelModule.BF16 ? bf16(ref) : ref,
                    type == KernelModule.F32 ? 1e-6 : 8e-3);
        }

        // argmax (with planted ties: the lowest index wins)
        {
            int rows = 4, vocab = 128256;
            float[] logits = rand(rows * vocab, 3f);
            logits[1 * vocab + 777] = 50f;
            logits[1 * vocab + 100000] = 50f;
            logits[3 * vocab + vocab - 1] = 60f;
            long dl = up(logits), di = Cuda.malloc(4L * rows);
            k.argmax(dl, di, vocab, rows);
            checkInts("argmax_rows (vocab 128256, ties)", downInts(di, rows), CpuTwins.argmax(logits, vocab));
            long dv = Cuda.malloc(4L * rows);
            k.pickRows(dl, di, dv, vocab, rows);
            check("pick_rows (the argmax values)", down(dv, rows), CpuTwins.pickRows(logits, CpuTwins.argmax(logits, vocab), vocab), 0);
        }

        // add_f32 (the device-local all-reduce's add), a size that is not a multiple of the block
        {
            int n = 2048 * 64 + 7;
            float[] a = rand(n, 1f), b = rand(n, 1f);
            long da = up(a), db = up(b);
            k.add(da, db, n);
            check("add_f32 (n=" + n + ")", down(da, n), CpuTwins.addInPlace(a, b), 0);
        }

        // cuBLASLt GEMM, f32 (no TF32) and bf16 (f32 accumulation)
        for (int type : new int[] {KernelModule.F32, KernelModule.BF16}) {
            for (int n : new int[] {1, 9, 130}) {
                int rows = 300, cols = 256;
                float[] w = rand(rows * cols, 0.05f), in = rand(n * cols, 1f);
                if (type == KernelModule.BF16) {
                    w = bf16(w);
                    in = bf16(in);
                }
                long dw = type == KernelModule.F32 ? up(w) : upBf16(w), din = type == KernelModule.F32 ? up(in) : upBf16(in);
                long dOut = Cuda.malloc(4L * n * rows);
                blas.gemm(dw, type, rows, cols, din, n, dOut);
                check("cuBLASLt gemm " + typeName[type] + " 300x256 n=" + n, down(dOut, n * rows), CpuTwins.gemm(w, rows, cols, in, n), 1e-5);
            }
        }
        // The small-batch GEMV kernel, bf16 and f16, every n it takes, odd row counts; twin: the same double-sum GEMM.
        for (int type : new int[] {KernelModule.BF16, KernelModule.F16}) {
            for (int n = 1; n <= KernelModule.GEMV_MAX_N; n++) {
                int rows = 301, cols = 520;
                float[] w = rand(rows * cols, 0.05f), in = rand(n * cols, 1f);
                w = type == KernelModule.BF16 ? bf16(w) : f16(w);
                in = type == KernelModule.BF16 ? bf16(in) : f16(in);
                long dw = type == KernelModule.BF16 ? upBf16(w) : upF16(w), din = type == KernelModule.BF16 ? upBf16(in) : upF16(in);
                long dOut = Cuda.malloc(4L * n * rows);
                k.gemv(dw, type, rows, cols, din, n, dOut);
                check("gemv " + (type == KernelModule.BF16 ? "bf16" : "f16") + " 301x520 n=" + n, down(dOut, n * rows),
                        CpuTwins.gemm(w, rows, cols, in, n), 1e-5);
                for (long d : new long[] {dw, din, dOut}) {
                    Cuda.free(d);
                }
            }
        }
        blas.close();
    }

    static float[] f16(float[] a) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = Float.float16ToFloat(Float.floatToFloat16(a[i]));
        }
        return r;
    }

    static long upF16(float[] a) {
        short[] s = new short[a.length];
        for (int i = 0; i < a.length; i++) {
            s[i] = Float.floatToFloat16(a[i]);
        }
        return upShorts(s);
    }

    /** bias_rope_qk on 9 tokens of 8 query heads and one KV head (MQA) against CpuTwins.biasClipRopeQk. */
    static void ropeCase(String what, int hd, int rotHalf, boolean interleaved, float clip, boolean withBias) {
        int heads = 8, kvHeads = 1, n = 9;
        int width = (heads + 2 * kvHeads) * hd;
        RotaryEmbedding rope = null;
        float[] inv = new float[Math.max(rotHalf, 1)];
        if (rotHalf > 0) {
            for (int i = 0; i < rotHalf; i++) {
                inv[i] = (float) (1.0 / Math.pow(10000.0, 2.0 * i / (2 * rotHalf)));
            }
            rope = new RotaryEmbedding(inv, 1f, interleaved);
        }
        float[] qkv = rand(n * width, 1f), bias = withBias ? rand(width, 0.1f) : null;
        int[] pos = RNG.ints(n, 0, 2048).toArray();
        long dq = up(qkv), db = bias == null ? 0 : up(bias), dp = up(pos), di = up(inv);
        k.biasRopeQk(dq, db, dp, rotHalf > 0 ? di : 0, 1f, heads, kvHeads, hd, rotHalf, interleaved, clip, n);
        CpuTwins.biasClipRopeQk(qkv, bias, clip, pos, rope, heads, kvHeads, hd);
        check("bias_rope_qk " + what + (withBias ? ", bias" : ""), down(dq, n * width), qkv, 2e-6);
        for (long d : new long[] {dq, db, dp, di}) {
            Cuda.free(d);
        }
    }

    /**
     * add_norm (the families' residual add + norm) against CpuTwins.addNorm: RMSNorm and LayerNorm (with and without
     * its bias), one delta or two (parallel residual), every residual mode, f32 and bf16 out, a hidden size that is
     * not a multiple of the block; then the final-norm form (row map) and BLOOM's in-place embedding norm.
     */
    static void addNormChecks() {
        int n = 7, hidden = 320;
        float eps = 1e-5f;
        String[] modeName = {"x kept", "x = sum", "x = norm"};
        for (TransformerSpec.NormSpec.Kind kind : TransformerSpec.NormSpec.Kind.values()) {
            int kindCode = kind == TransformerSpec.NormSpec.Kind.RMS ? KernelModule.NORM_RMS : KernelModule.NORM_LAYER;
            for (boolean two : new boolean[] {false, true}) {
                for (int mode = 0; mode < 3; mode++) {
                    for (int type : new int[] {KernelModule.F32, KernelModule.BF16}) {
                        float[] x = rand(n * hidden, 2f), d1 = rand(n * hidden, 1f), b1 = rand(hidden, 0.1f);
                        float[] d2 = two ? rand(n * hidden, 1f) : null, b2 = two ? rand(hidden, 0.1f) : null;
                        float[] w = rand(hidden, 1f);
                        float[] nb = kind == TransformerSpec.NormSpec.Kind.LAYER && mode != 1 ? rand(hidden, 0.5f) : null;
                        long dx = up(x), dd1 = up(d1), db1 = up(b1), dd2 = two ? up(d2) : 0, db2 = two ? up(b2) : 0;
                        long dw = up(w), dnb = nb == null ? 0 : up(nb), dOut = Cuda.malloc(4L * n * hidden);
                        k.addNorm(dx, dd1, db1, dd2, db2, dw, dnb, dOut, type, 0, hidden, eps, kindCode, mode, n);
                        float[] xCpu = x.clone();
                        float[] ref = CpuTwins.addNorm(xCpu, d1, b1, d2, b2, w, nb, hidden, eps, kind, mode, type == KernelModule.BF16);
                        String tag = kind + (nb != null ? " with bias" : "") + (two ? ", two deltas" : ", one delta") + ", " + modeName[mode];
                        check("add_norm " + tag + ", out " + (type == KernelModule.F32 ? "f32" : "bf16"), downAs(dOut, type, n * hidden), ref,
                                type == KernelModule.F32 ? 1e-5 : 8e-3);
                        if (type == KernelModule.F32) {
                            check("add_norm " + tag + ": residual", down(dx, n * hidden), xCpu, 1e-5);
                        }
                        for (long d : new long[] {dx, dd1, db1, dd2, db2, dw, dnb, dOut}) {
                            Cuda.free(d);
                        }
                    }
                }
            }
        }
        // The final-norm form: rows {6, 2}, x untouched, LayerNorm with bias, two deltas (a parallel-residual model).
        {
            int[] rows = {6, 2};
            float[] x = rand(n * hidden, 2f), d1 = rand(n * hidden, 1f), b1 = rand(hidden, 0.1f), d2 = rand(n * hidden, 1f);
            float[] w = rand(hidden, 1f), nb = rand(hidden, 0.5f);
            long dx = up(x), dd1 = up(d1), db1 = up(b1), dd2 = up(d2), dw = up(w), dnb = up(nb), dRows = up(rows);
            long dOut = Cuda.malloc(4L * rows.length * hidden);
            k.addNorm(dx, dd1, db1, dd2, 0, dw, dnb, dOut, KernelModule.F32, dRows, hidden, eps, KernelModule.NORM_LAYER,
                    KernelModule.KEEP_X, rows.length);
            float[] sx = new float[rows.length * hidden], s1 = new float[rows.length * hidden], s2 = new float[rows.length * hidden];
            for (int r = 0; r < rows.length; r++) {
                System.arraycopy(x, rows[r] * hidden, sx, r * hidden, hidden);
                System.arraycopy(d1, rows[r] * hidden, s1, r * hidden, hidden);
                System.arraycopy(d2, rows[r] * hidden, s2, r * hidden, hidden);
            }
            check("add_norm final form (row map, LayerNorm, two deltas)", down(dOut, rows.length * hidden),
                    CpuTwins.addNorm(sx, s1, b1, s2, null, w, nb, hidden, eps, TransformerSpec.NormSpec.Kind.LAYER,
                            KernelModule.KEEP_X, false), 1e-5);
            check("add_norm final form leaves x alone", down(dx, n * hidden), x, 0);
            for (long d : new long[] {dx, dd1, db1, dd2, dw, dnb, dRows, dOut}) {
                Cuda.free(d);
            }
        }
        // BLOOM's embedding LayerNorm: out is x itself (f32), no deltas.
        {
            float[] x = rand(n * hidden, 2f), w = rand(hidden, 1f), nb = rand(hidden, 0.5f);
            long dx = up(x), dw = up(w), dnb = up(nb);
            k.addNorm(dx, 0, 0, 0, 0, dw, dnb, dx, KernelModule.F32, 0, hidden, eps, KernelModule.NORM_LAYER, KernelModule.KEEP_X, n);
            check("add_norm in place (embedding LayerNorm)", down(dx, n * hidden),
                    CpuTwins.addNorm(x.clone(), null, null, null, null, w, nb, hidden, eps, TransformerSpec.NormSpec.Kind.LAYER,
                            KernelModule.KEEP_X, false), 1e-5);
            for (long d : new long[] {dx, dw, dnb}) {
                Cuda.free(d);
            }
        }
        // Hidden sizes around the block: 64 (the fixtures'), 1600 (GPT-2 XL), 4544 (Falcon-7B), LayerNorm, x = sum.
        for (int hs : new int[] {64, 1600, 4544}) {
            float[] x = rand(3 * hs, 2f), d1 = rand(3 * hs, 1f), w = rand(hs, 1f), nb = rand(hs, 0.5f);
            long dx = up(x), dd1 = up(d1), dw = up(w), dnb = up(nb), dOut = Cuda.malloc(4L * 3 * hs);
            k.addNorm(dx, dd1, 0, 0, 0, dw, dnb, dOut, KernelModule.F32, 0, hs, eps, KernelModule.NORM_LAYER, KernelModule.X_GETS_SUM, 3);
            float[] xCpu = x.clone();
            check("add_norm LayerNorm hidden " + hs, down(dOut, 3 * hs), CpuTwins.addNorm(xCpu, d1, null, null, null, w, nb, hs, eps,
                    TransformerSpec.NormSpec.Kind.LAYER, KernelModule.X_GETS_SUM, false), 1e-5);
            for (long d : new long[] {dx, dd1, dw, dnb, dOut}) {
                Cuda.free(d);
            }
        }
    }

    static final String[] TYPE_NAMES = {"f32", "bf16", "f16"};

    static void attentionCase(int hd, int window, int outType, int kvType, boolean alibiOn) {
        int heads = 8, kvHeads = 2, kvDim = kvHeads * hd, qDim = heads * hd, width = qDim + 2 * kvDim, bs = 16;
        KvBlockPool pool = new KvBlockPool(1, kvDim, bs, 128);
        int[] lengths = {1, 37, 200, 16};
        KvCache[] seqs = new KvCache[lengths.length];
        for (int s = 0; s < seqs.length; s++) {
            seqs[s] = new KvCache(pool, 4096);
        }
        // Interleave the sequences' block allocation so tables are not contiguous.
        for (int b = 0; b < 13; b++) {
            for (int s = 0; s < seqs.length; s++) {
                if (seqs[s].reservedPositions() < lengths[s] + 5) {
                    seqs[s].ensureCapacity(seqs[s].reservedPositions() + bs);
                }
            }
        }
        // The step: all history positions of every sequence written, then the last token of sequences 0..2 (decode)
        // and the last 5 positions of sequence 3 (a prefill chunk) attend.
        List<Integer> tokPos = new ArrayList<>();
        List<KvCache> tokCache = new ArrayList<>();
        for (int s = 0; s < seqs.length; s++) {
            for (int p = 0; p < lengths[s]; p++) {
                tokPos.add(p);
                tokCache.add(seqs[s]);
            }
        }
        int n = tokPos.size();
        int[] pos = tokPos.stream().mapToInt(Integer::intValue).toArray();
        KvCache[] caches = tokCache.toArray(new KvCache[0]);
        float[] qkv = rand(n * width, 1f);
        // A bf16 cache holds the keys and values rounded to bf16; the twin computes from those.
        float[] cached = CpuTwins.roundKv(qkv, qDim, kvDim, kvType);
        CpuTwins.kvCacheWrite(cached, caches, pos, 0, qDim, kvDim);
        // Block tables, one per token (tableOff), as GpuLlamaModel lays them out.
        List<Integer> tables = new ArrayList<>();
        int[] tableOff = new int[n];
        KvCache prev = null;
        int off = 0;
        for (int t = 0; t < n; t++) {
            if (caches[t] != prev) {
                off = tables.size();
                for (int b = 0; b < caches[t].blockCount(); b++) {
                    tables.add(caches[t].block(b));
                }
                prev = caches[t];
            }
            tableOff[t] = off;
        }
        int kvBytes = kvType == KernelModule.F32 ? 4 : kvType == KernelModule.FP8_E4M3 ? 1 : 2;
        long arenaBytes = (long) kvBytes * pool.capacityBlocks() * bs * kvDim;
        long dK = Cuda.malloc(arenaBytes), dV = Cuda.malloc(arenaBytes);
        Cuda.memset(dK, arenaBytes, stream);
        Cuda.memset(dV, arenaBytes, stream);
        long dq = up(qkv), dPos = up(pos), dOff = up(tableOff), dTab = up(tables.stream().mapToInt(Integer::intValue).toArray());
        k.kvCacheWrite(dq, dK, dV, kvType, dPos, dOff, dTab, qDim, kvDim, bs, n);
        float scale = (float) (1.0 / Math.sqrt(hd));
        String tag = "hd " + hd + (window > 0 ? " window " + window : "") + (outType == KernelModule.BF16 ? " bf16 out" : "")
                + (kvType == KernelModule.BF16 ? " bf16 KV" : kvType == KernelModule.FP8_E4M3 ? " fp8 KV" : "") + (alibiOn ? " ALiBi" : "");
        // BLOOM's slopes of 8 heads (0.5 .. 2^-8: distant positions fade fast), times the scale as Falcon's would be.
        float[] slopes = null;
        long dSlopes = 0;
        if (alibiOn) {
            slopes = new float[heads];
            for (int i = 0; i < heads; i++) {
                slopes[i] = (float) Math.pow(2, -(i + 1)) * (i % 2 == 0 ? 1f : scale);
            }
            dSlopes = up(slopes);
        }
        if (window == 0 && outType == KernelModule.F32 && !alibiOn) {
            // The arena holds what the CPU cache holds, block by block.
            float[] kAll = downAs(dK, kvType, (int) (arenaBytes / kvBytes));
            float[] kGpu = new float[n * kvDim], kCpu = new float[n * kvDim];
            for (int t = 0; t < n; t++) {
                int p = pos[t];
                int block = caches[t].block(p / bs);
                System.arraycopy(kAll, (block * bs + p % bs) * kvDim, kGpu, t * kvDim, kvDim);
                System.arraycopy(caches[t].keyBlock(0, p), caches[t].offset(p), kCpu, t * kvDim, kvDim);
            }
            check("kv_cache_write keys in paged blocks " + tag, kGpu, kCpu, 0);
        }
        // Attention for every token (decode = last token of each sequence; prefill = all rows).
        long dOut = Cuda.malloc(4L * n * qDim);
        float[] ref = CpuTwins.attention(cached, caches, pos, 0, heads, kvHeads, hd, scale, window, slopes);
        if (outType == KernelModule.BF16) {
            ref = bf16(ref);
        }
        for (int warps : new int[] {4, 16}) {
            KernelModule.attentionWarps = warps;
            k.pagedAttention(dq, dOut, outType, dK, dV, kvType, dPos, dOff, dTab, heads, kvHeads, hd, bs, scale, window, dSlopes, n);
            check("paged_attention GQA 8/2, lengths 1/37/200/16, " + tag + ", " + warps + " warps", downAs(dOut, outType, n * qDim), ref,
                    outType == KernelModule.F32 ? 2e-5 : 8e-3);
        }
        KernelModule.attentionWarps = 0;
        for (long d : new long[] {dK, dV, dq, dPos, dOff, dTab, dOut, dSlopes}) {
            Cuda.free(d);
        }
    }

    // ---- models ----
    record Reference(int[] prompt, float[] logits, int[] greedy) {
    }

    static Reference reference(Path dir) {
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> t = SafetensorsFile.open(dir.resolve("reference.safetensors"), arena).tensors();
            return new Reference(ints(t.get("input_ids").toLongArray()), t.get("logits").toFloatArray(), ints(t.get("greedy_ids").toLongArray()));
        }
    }

    static int[] ints(long[] a) {
        return Arrays.stream(a).mapToInt(Math::toIntExact).toArray();
    }

    static void fixture(Path dir) throws Exception {
        Reference ref = reference(dir);
        String name = dir.getFileName().toString();
        try (WorkerPool pool = new WorkerPool(4); DecoderModel cpu = Architectures.load(dir, pool);
             GpuLlamaModel gpu = new GpuLlamaModel(cpu, GpuLlamaModel.Precision.AS_STORED)) {
            int vocab = gpu.vocabSize(), n = ref.prompt.length;
            KvBlockPool kv = gpu.newKvPool(16, (gpu.contextLength() + 15) / 16);
            KvCache cache = gpu.newCache(kv);
            float[] logits = new float[n * vocab];
            gpu.forward(new Batch(n).addSequence(ref.prompt, 0, n, 0, cache, true), logits);
            check(name + ": whole-prompt logits vs transformers", logits, ref.logits, 1e-3);
            float[] cpuLogits = new float[n * vocab];
            cpu.forward(new Batch(n).addSequence(ref.prompt, 0, n, 0, cpu.newCache(), true), cpuLogits);
            check(name + ": whole-prompt logits vs CPU engine", logits, cpuLogits, 1e-4);
            // Token by token through the paged cache.
            KvCache c2 = gpu.newCache(kv);
            float[] step = new float[vocab], stepped = new float[n * vocab];
            Batch b = new Batch(1);
            for (int i = 0; i < n; i++) {
                gpu.forward(b.clear().add(ref.prompt[i], i, c2, true), step);
                System.arraycopy(step, 0, stepped, i * vocab, vocab);
            }
            check(name + ": token-by-token logits vs transformers", stepped, ref.logits, 1e-3);
            // Greedy continuation (GPU argmax).
            int[] out = new int[ref.greedy.length];
            int[] id = new int[1];
            KvCache c3 = gpu.newCache(kv);
            gpu.forwardGreedy(b.clear().addSequence(ref.prompt, 0, n, 0, c3, false), id);
            for (int i = 0; i < out.length; i++) {
                out[i] = id[0];
                if (i + 1 < out.length) {
                    gpu.forwardGreedy(b.clear().add(id[0], n + i, c3, true), id);
                }
            }
            checkInts(name + ": greedy ids vs transformers", out, ref.greedy);
            // The one-token steps above (token by token, greedy decode) run through the bucket-1 graph: eager on first
            // use, captured on the second, replayed after; their logits and ids are what the checks above compared.
            int captures = gpu.graphCaptures();
            boolean graphed = captures >= 1;
            failures += graphed ? 0 : 1;
            System.out.printf("%s %-58s %d captured%n", graphed ? "PASS" : "FAIL", name + ": decode steps as CUDA graphs", captures);
            for (Variant v : variants(name, cpu.spec(), cpu.weights())) {
                perturbedFixture(v, pool, ref.prompt);
            }
        }
    }

    /**
     * The weights with every bias and norm parameter random, deterministic in {@code seed}. The hf-tiny checkpoints
     * have zero biases and unit norm weights, which would hide a bias added in the wrong place or a norm weight
     * misread; against the CPU engine on the same weights these show. Biases of every linear layer (absent ones
     * added: the engine adds whichever is there), norm weights, LayerNorm biases (the engine's RMSNorm has none), the
     * embedding norm's (where the family has one), the LM head's bias. Matrices and embeddings are shared.
     */
    static ModelWeights perturbed(TransformerSpec s, ModelWeights w, long seed) {
        Random r = new Random(seed);
        boolean ln = s.norm().kind() == TransformerSpec.NormSpec.Kind.LAYER;
        int h = s.hidden();
        LayerWeights[] ls = new LayerWeights[w.layers().length];
        for (int i = 0; i < ls.length; i++) {
            LayerWeights l = w.layers()[i];
            LayerWeights.FusedQkv f = l.fused();
            if (f != null) {
                f = new LayerWeights.FusedQkv(f.w(), noise(r, f.w().rows(), 0.1f), f.qOffset(), f.kOffset(), f.vOffset());
            }
            boolean split = f == null;
            ls[i] = new LayerWeights(
                    unitNoise(r, l.norm1Weight()), ln ? noise(r, h, 0.1f) : null,
                    l.norm2Weight() == null ? null : unitNoise(r, l.norm2Weight()), ln && l.norm2Weight() != null ? noise(r, h, 0.1f) : null,
                    l.wq(), split ? noise(r, s.qDim(), 0.1f) : null, l.wk(), split ? noise(r, s.kvDim(), 0.1f) : null,
                    l.wv(), split ? noise(r, s.kvDim(), 0.1f) : null, f,
                    l.wo(), noise(r, h, 0.1f),
                    l.wGate(), l.wGate() == null ? null : noise(r, s.ffn(), 0.1f),
                    l.wUp(), noise(r, s.ffn(), 0.1f),
                    l.wDown(), noise(r, h, 0.1f));
        }
        boolean embNorm = w.embeddingNormWeight() != null;
        return new ModelWeights(w.tokenEmbedding(), w.positionEmbedding(),
                embNorm ? unitNoise(r, w.embeddingNormWeight()) : null, embNorm ? noise(r, h, 0.1f) : null, ls,
                unitNoise(r, w.finalNormWeight()), ln ? noise(r, h, 0.1f) : null, w.lmHead(), noise(r, w.lmHead().rows(), 0.1f));
    }

    private static float[] noise(Random r, int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian() * scale;
        }
        return a;
    }

    /** 1 + noise, the length of {@code like} (a norm weight). */
    private static float[] unitNoise(Random r, float[] like) {
        float[] a = noise(r, like.length, 0.1f);
        for (int i = 0; i < a.length; i++) {
            a[i] += 1f;
        }
        return a;
    }

    /** A fixture's model changed to exercise what no hf-tiny fixture has (see {@link #variants}). */
    record Variant(String label, TransformerSpec spec, ModelWeights weights) {
    }

    /**
     * The family choices no hf-tiny fixture makes, each on the fixture closest to the family that makes it (the
     * CPU engine computes them all, so it is the reference): BLOOM with apply_residual_connection_post_layernorm;
     * Falcon's new decoder architecture (two norms in a parallel block), Falcon-RW's ALiBi (added before the scale),
     * rotate-half rotary over half the head (NeoX's rotary_pct); MPT's clip_qkv; Mistral's sliding window; a gated
     * GELU MLP (Gemma-style, through bias_act rather than swiglu); GPT-2 with ReLU. Always with the fixture itself
     * first.
     */
    static List<Variant> variants(String arch, TransformerSpec s, ModelWeights w) {
        List<Variant> v = new ArrayList<>();
        v.add(new Variant(arch, s, w));
        switch (arch) {
            case "bloom" -> v.add(new Variant("bloom, residual from the norm", respec(s, s.rope(), s.alibiSlopes(), false,
                    0, 0f, true, s.gatedMlp(), s.activation()), w));
            case "falcon" -> {
                LayerWeights[] ls = new LayerWeights[w.layers().length];
                for (int i = 0; i < ls.length; i++) {
                    LayerWeights l = w.layers()[i];
                    float[] ones = new float[s.hidden()];
                    Arrays.fill(ones, 1f);
                    ls[i] = new LayerWeights(l.norm1Weight(), l.norm1Bias(), ones, new float[s.hidden()], l.wq(), l.bq(), l.wk(),
                            l.bk(), l.wv(), l.bv(), l.fused(), l.wo(), l.bo(), l.wGate(), l.bGate(), l.wUp(), l.bUp(), l.wDown(), l.bDown());
                }
                v.add(new Variant("falcon, two norms (new decoder architecture)", s, new ModelWeights(w.tokenEmbedding(),
                        w.positionEmbedding(), w.embeddingNormWeight(), w.embeddingNormBias(), ls, w.finalNormWeight(),
                        w.finalNormBias(), w.lmHead(), w.lmHeadBias())));
                float[] slopes = new float[s.heads()];
                for (int i = 0; i < slopes.length; i++) {
                    slopes[i] = (float) Math.pow(2, -(i + 1));
                }
                v.add(new Variant("falcon, ALiBi before the scale", respec(s, null, slopes, true, 0, 0f, false,
                        s.gatedMlp(), s.activation()), w));
                RotaryEmbedding r = s.rope();
                v.add(new Variant("falcon, rotary over half the head", respec(s, new RotaryEmbedding(
                        Arrays.copyOf(r.invFreq(), r.invFreq().length / 2), r.scale(), false), null, false, 0, 0f, false,
                        s.gatedMlp(), s.activation()), w));
            }
            case "mpt" -> v.add(new Variant("mpt, clip_qkv 0.02", respec(s, s.rope(), s.alibiSlopes(), s.alibiScaledWithScores(),
                    0, 0.02f, false, s.gatedMlp(), s.activation()), w));
            case "mistral" -> v.add(new Variant("mistral, sliding window 3", respec(s, s.rope(), null, false, 3, 0f, false,
                    s.gatedMlp(), s.activation()), w));
            case "llama" -> v.add(new Variant("llama, gated GELU (tanh)", respec(s, s.rope(), null, false, 0, 0f, false, true,
                    TransformerSpec.Activation.GELU_TANH), w));
            case "gpt2" -> v.add(new Variant("gpt2, ReLU", respec(s, null, null, false, 0, 0f, false, false,
                    TransformerSpec.Activation.RELU), w));
            default -> {
            }
        }
        return v;
    }

    private static TransformerSpec respec(TransformerSpec s, RotaryEmbedding rope, float[] alibi, boolean alibiScaled,
                                          int window, float clip, boolean residualFromNorm, boolean gated,
                                          TransformerSpec.Activation act) {
        return new TransformerSpec(s.hidden(), s.layers(), s.heads(), s.kvHeads(), s.headDim(), s.ffn(), s.vocab(),
                s.contextLength(), s.norm(), rope, alibi, alibiScaled, s.attentionScale(), window, clip,
                s.parallelResidual(), residualFromNorm, gated, act);
    }

    /**
     * The runner against the CPU engine on a variant's spec with the weights' biases and norm parameters random
     * ({@link #perturbed}): whole-prompt logits, then token by token through the paged cache (one-token steps: CUDA
     * graphs), 1e-4 relative. transformers' fixtures cannot check these (their biases and norms are zeros and ones).
     */
    static void perturbedFixture(Variant v, WorkerPool pool, int[] prompt) throws Exception {
        String name = v.label();
        ModelWeights pw = perturbed(v.spec(), v.weights(), 7);
        try (DecoderModel cpuP = new DecoderModel(name, v.spec(), pw, null, pool);
             GpuLlamaModel gpu = new GpuLlamaModel(name, v.spec(), pw, GpuLlamaModel.Precision.AS_STORED, null)) {
            int vocab = gpu.vocabSize(), n = prompt.length;
            float[] cpuLogits = new float[n * vocab];
            cpuP.forward(new Batch(n).addSequence(prompt, 0, n, 0, cpuP.newCache(), true), cpuLogits);
            KvBlockPool kv = gpu.newKvPool(16, (gpu.contextLength() + 15) / 16);
            float[] logits = new float[n * vocab];
            gpu.forward(new Batch(n).addSequence(prompt, 0, n, 0, gpu.newCache(kv), true), logits);
            check(name + " with random biases and norms: whole prompt vs CPU engine", logits, cpuLogits, 1e-4);
            KvCache c = gpu.newCache(kv);
            float[] step = new float[vocab], stepped = new float[n * vocab];
            Batch b = new Batch(1);
            for (int i = 0; i < n; i++) {
                gpu.forward(b.clear().add(prompt[i], i, c, true), step);
                System.arraycopy(step, 0, stepped, i * vocab, vocab);
            }
            check(name + " with random biases and norms: token by token vs CPU engine", stepped, cpuLogits, 1e-4);
        }
    }

    static int[] ids(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asInt();
        }
        return out;
    }

    static void kjv(Path dir) throws Exception {
        JsonNode refJson = JsonMapper.builder().build().readTree(Files.readString(dir.resolve("reference.json")));
        List<int[]> prompts = new ArrayList<>();
        List<int[]> greedy = new ArrayList<>();
        for (JsonNode g : refJson.get("generations")) {
            prompts.add(ids(g.get("prompt_ids")));
            greedy.add(ids(g.get("greedy_ids")));
        }
        int s = prompts.size();
        try (WorkerPool pool = new WorkerPool(4); DecoderModel cpu = Architectures.load(dir, pool)) {
            for (GpuLlamaModel.Precision prec : GpuLlamaModel.Precision.values()) {
                try (GpuLlamaModel gpu = new GpuLlamaModel(cpu, prec)) {
                    int vocab = gpu.vocabSize();
                    KvBlockPool kv = gpu.newKvPool(16, 64 * s);
                    KvCache[] caches = new KvCache[s];
                    Batch b = new Batch(64);
                    for (int i = 0; i < s; i++) {
                        caches[i] = gpu.newCache(kv);
                        b.addSequence(prompts.get(i), 0, prompts.get(i).length, 0, caches[i], false);
                    }
                    // Prefill logits of the six prompts against the CPU engine on the same batch.
                    float[] gl = new float[s * vocab], cl = new float[s * vocab];
                    gpu.forward(b, gl);
                    Batch cb = new Batch(64);
                    for (int i = 0; i < s; i++) {
                        cb.addSequence(prompts.get(i), 0, prompts.get(i).length, 0, cpu.newCache(), false);
                    }
                    cpu.forward(cb, cl);
                    check("kjv-demo " + prec + ": batched prefill logits vs CPU engine", gl, cl, prec == GpuLlamaModel.Precision.F32 ? 1e-4 : 2e-2);
                    // Greedy: restart with fresh caches, prefill all six in one batch, then decode the six together.
                    for (KvCache c : caches) {
                        c.release();
                    }
                    int len = greedy.get(0).length;
                    int[][] out = new int[s][len];
                    int[] next = new int[s];
                    gpu.forwardGreedy(b, next);
                    for (int step = 0; step < len; step++) {
                        b.clear();
                        for (int i = 0; i < s; i++) {
                            out[i][step] = next[i];
                            b.add(next[i], prompts.get(i).length + step, caches[i], true);
                        }
                        if (step + 1 < len) {
                            gpu.forwardGreedy(b, next);
                        }
                    }
                    for (int i = 0; i < s; i++) {
                        checkInts("kjv-demo " + prec + ": generation " + i + " greedy ids (batched x6)", out[i], greedy.get(i));
                    }
                }
            }
            // The reduced KV caches' effect on the text (reported, not held to identity: rounding keys and values
            // may flip a near-tie): tokens of the six greedy continuations equal to transformers' before the first
            // difference, with bf16 GEMMs.
            for (int kvType : new int[] {KernelModule.BF16, KernelModule.FP8_E4M3}) {
                try (GpuLlamaModel gpu = new GpuLlamaModel(cpu, GpuLlamaModel.Precision.AS_STORED)) {
                    gpu.setKvCacheType(kvType);
                    KvBlockPool kv = gpu.newKvPool(16, 64 * s);
                    int agree = 0, total = 0;
                    for (int i = 0; i < s; i++) {
                        KvCache c = gpu.newCache(kv);
                        int[] want = greedy.get(i);
                        Batch b = new Batch(64).addSequence(prompts.get(i), 0, prompts.get(i).length, 0, c, false);
                        int[] next = new int[1];
                        boolean same = true;
                        for (int step = 0; step < want.length; step++) {
                            gpu.forwardGreedy(b, next);
                            same &= next[0] == want[step];
                            agree += same ? 1 : 0;
                            total++;
                            b.clear().add(next[0], prompts.get(i).length + step, c, true);
                        }
                        c.release();
                    }
                    System.out.printf("INFO kjv-demo bf16 weights, %s KV cache: %d of %d greedy tokens equal to transformers' before "
                            + "each generation's first difference%n", kvType == KernelModule.BF16 ? "bf16" : "fp8 (E4M3)", agree, total);
                }
            }
        }
    }

    /**
     * The GPU runner under the engine's in-flight batching runtime (the scheduler's contract unchanged): kjv-demo's six
     * greedy continuations submitted together with 40 random requests (some cancelled) into a KV pool small enough
     * to force preemption; the six must match transformers and every block must come back.
     */
    static void runtime(Path dir) throws Exception {
        JsonNode refJson = JsonMapper.builder().build().readTree(Files.readString(dir.resolve("reference.json")));
        try (WorkerPool pool = new WorkerPool(4); DecoderModel cpu = Architectures.load(dir, pool);
             GpuLlamaModel gpu = new GpuLlamaModel(cpu, GpuLlamaModel.Precision.AS_STORED);
             EngineRuntime rt = new EngineRuntime(gpu, null,
                     new RuntimeConfig(8, 1000, 64, 16, 40, true, RuntimeConfig.Policy.IN_FLIGHT))) {
            List<RequestHandle> refs = new ArrayList<>();
            for (JsonNode g : refJson.get("generations")) {
                refs.add(rt.submit(GenerationRequest.of(ids(g.get("prompt_ids")), SamplingParams.GREEDY,
                        StopConditions.maxTokens(32, java.util.Set.of()))));
            }
            List<RequestHandle> others = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                int[] p = new int[1 + RNG.nextInt(100)];
                for (int j = 0; j < p.length; j++) {
                    p[j] = RNG.nextInt(4091);
                }
                others.add(rt.submit(GenerationRequest.of(p, new SamplingParams(0.8, 0, 0.95, 0, 1, 0, 0, (long) i),
                        StopConditions.maxTokens(1 + RNG.nextInt(100), java.util.Set.of()))));
                if (i % 7 == 3) {
                    others.get(RNG.nextInt(others.size())).cancel();
                }
            }
            int i = 0;
            for (JsonNode g : refJson.get("generations")) {
                List<GenerationEvent> ev = refs.get(i).awaitEvents(120, java.util.concurrent.TimeUnit.SECONDS);
                int[] out = ev.stream().filter(e -> e instanceof GenerationEvent.Token).mapToInt(e -> ((GenerationEvent.Token) e).tokenId()).toArray();
                checkInts("runtime on GPU: kjv generation " + i + " greedy ids among 46 requests", out, ids(g.get("greedy_ids")));
                i++;
            }
            for (RequestHandle h : others) {
                h.completion().get(120, java.util.concurrent.TimeUnit.SECONDS);
            }
            RuntimeStats st = rt.stats();
            System.out.println("runtime stats: " + st);
            if (st.kvBlocksUsed() != 0 || st.finished() != 46) {
                System.out.println("FAIL runtime on GPU: blocks used " + st.kvBlocksUsed() + ", finished " + st.finished());
                failures++;
            } else {
                System.out.println("PASS runtime on GPU: 46 finished, every KV block back, " + st.preemptions() + " preemptions");
            }
        }
    }

    /** Serving throughput on the GPU runner: the same workload with in-flight and with static batching. */
    static void serving(Path dir, int requests) throws Exception {
        try (WorkerPool pool = new WorkerPool(4); DecoderModel cpu = Architectures.load(dir, pool);
             GpuLlamaModel gpu = new GpuLlamaModel(cpu, GpuLlamaModel.Precision.AS_STORED)) {
            dev.llmplatform.engine.bench.Workload w = dev.llmplatform.engine.bench.Workload.generate(7, requests,
                    gpu.vocabSize(), 16, 512, 8, 512, Double.POSITIVE_INFINITY);
            double[] tput = new double[2];
            for (RuntimeConfig.Policy pol : RuntimeConfig.Policy.values()) {
                try (EngineRuntime rt = new EngineRuntime(gpu, null, new RuntimeConfig(32, requests, 2048, 16, 8192, true, pol))) {
                    dev.llmplatform.engine.bench.ServingBenchmark.run(new dev.llmplatform.engine.bench.EngineTarget(rt),
                            dev.llmplatform.engine.bench.Workload.generate(8, 8, gpu.vocabSize(), 16, 32, 4, 8, Double.POSITIVE_INFINITY), 8, 300);
                    var r = dev.llmplatform.engine.bench.ServingBenchmark.run(new dev.llmplatform.engine.bench.EngineTarget(rt), w, 32, 600);
                    tput[pol.ordinal()] = r.outputThroughput();
                    System.out.printf("serving %s: %d requests in %.1f s, %.0f output tok/s, TTFT p50 %.0f ms p99 %.0f ms, ITL p50 %.1f ms p99 %.1f ms, failed %d%n",
                            pol, r.completed(), r.seconds(), r.outputThroughput(), r.ttftMs().p50(), r.ttftMs().p99(),
                            r.itlMs().p50(), r.itlMs().p99(), r.failed());
                }
            }
            System.out.printf("serving in-flight / static: %.2fx%n", tput[0] / tput[1]);
        }
    }
}
