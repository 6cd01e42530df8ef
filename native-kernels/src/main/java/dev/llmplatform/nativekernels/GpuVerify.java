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
 *   <li>{@code kernels}: every kernel and the cuBLASLt GEMM against its CPU twin ({@link CpuTwins}) on random inputs;</li>
 *   <li>{@code fixture DIR...}: hf-tiny checkpoints: whole-prompt logits against transformers' (1e-3 relative to the
 *       row's largest logit) and the CPU engine's, greedy continuation ids identical;</li>
 *   <li>{@code kjv DIR}: the six greedy continuations of reference.json, the six sequences batched together
 *       (prefill in one batch, then decode steps of six), in both precisions;</li>
 *   <li>{@code runtime DIR}, {@code serving DIR N}: the runner under the engine's runtime;</li>
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

        // kv_cache_write + paged_attention, GQA, variable lengths, decode tokens and a prefill chunk, window or not
        // (64 and 128 take the vector-load kernel, 40 the generic one)
        for (int hd : new int[] {64, 128, 40}) {
            for (int window : new int[] {0, 50}) {
                for (int type : new int[] {KernelModule.F32, KernelModule.BF16}) {
                    for (int kvType : new int[] {KernelModule.F32, KernelModule.BF16}) {
                        attentionCase(hd, window, type, kvType);
                    }
                }
            }
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

    static void attentionCase(int hd, int window, int outType, int kvType) {
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
        float[] cached = kvType == KernelModule.BF16 ? CpuTwins.roundKv(qkv, qDim, kvDim) : qkv;
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
        int kvBytes = kvType == KernelModule.F32 ? 4 : 2;
        long arenaBytes = (long) kvBytes * pool.capacityBlocks() * bs * kvDim;
        long dK = Cuda.malloc(arenaBytes), dV = Cuda.malloc(arenaBytes);
        Cuda.memset(dK, arenaBytes, stream);
        Cuda.memset(dV, arenaBytes, stream);
        long dq = up(qkv), dPos = up(pos), dOff = up(tableOff), dTab = up(tables.stream().mapToInt(Integer::intValue).toArray());
        k.kvCacheWrite(dq, dK, dV, kvType, dPos, dOff, dTab, qDim, kvDim, bs, n);
        float scale = (float) (1.0 / Math.sqrt(hd));
        String tag = "hd " + hd + (window > 0 ? " window " + window : "") + (outType == KernelModule.BF16 ? " bf16 out" : "")
                + (kvType == KernelModule.BF16 ? " bf16 KV" : "");
        if (window == 0 && outType == KernelModule.F32) {
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
        float[] ref = CpuTwins.attention(cached, caches, pos, 0, heads, kvHeads, hd, scale, window);
        if (outType == KernelModule.BF16) {
            ref = bf16(ref);
        }
        for (int warps : new int[] {4, 16}) {
            KernelModule.attentionWarps = warps;
            k.pagedAttention(dq, dOut, outType, dK, dV, kvType, dPos, dOff, dTab, heads, kvHeads, hd, bs, scale, window, n);
            check("paged_attention GQA 8/2, lengths 1/37/200/16, " + tag + ", " + warps + " warps", downAs(dOut, outType, n * qDim), ref,
                    outType == KernelModule.F32 ? 2e-5 : 8e-3);
        }
        KernelModule.attentionWarps = 0;
        for (long d : new long[] {dK, dV, dq, dPos, dOff, dTab, dOut}) {
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
