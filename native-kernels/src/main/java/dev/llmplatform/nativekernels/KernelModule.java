package dev.llmplatform.nativekernels;

import static org.bytedeco.cuda.global.cudart.*;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUlaunchAttribute;
import org.bytedeco.cuda.cudart.CUlaunchConfig;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * The kernels of {@code src/main/cuda/kernels.cu}: the fatbin nvcc built into the jar, loaded with
 * {@code cuModuleLoadData}, and typed launchers. Arguments go through one reusable native area of 8-byte slots
 * (ints and floats in the low 4 bytes, little-endian), so a launch allocates no native memory.
 *
 * <p>Not thread-safe: one instance per stream/thread.
 */
public final class KernelModule implements AutoCloseable {
    public static final String RESOURCE = "/dev/llmplatform/nativekernels/kernels.fatbin";
    public static final String[] KERNELS = {"embed_gather", "add_rmsnorm", "bias_rope_qk", "kv_cache_write",
        "paged_attention", "swiglu", "argmax_rows", "convert", "gemv_one", "gemv_small", "add_f32", "pick_rows",
        "add_norm", "paged_attention_alibi", "bias_act", "add_bias_rows", "transpose_convert"};

    /**
     * The kernels that begin with {@code pdl_begin()} (kernels.cu): only these are launched as programmatic dependents
     * (see {@link #setProgrammaticLaunch}); any other kernel keeps plain stream order, so one that reads its inputs
     * before waiting can never be started early by mistake.
     */
    static final java.util.Set<String> PDL_KERNELS = java.util.Set.of("embed_gather", "add_rmsnorm", "bias_rope_qk", "kv_cache_write",
            "paged_attention", "paged_attention_alibi", "swiglu", "argmax_rows", "gemv_one", "gemv_small", "pick_rows", "add_norm",
            "bias_act", "add_bias_rows", "allreduce_one_shot", "allreduce_add_rmsnorm");

    /** Element type codes the kernels take (outType/dtype arguments). */
    public static final int F32 = 0, BF16 = 1, F16 = 2;
    /** FP8 E4M3, for the KV cache only (kv_cache_write and the attention kernels' kvType; scale 1). */
    public static final int FP8_E4M3 = 3;
    /** {@link #addNorm}'s norm kinds. */
    public static final int NORM_RMS = 0, NORM_LAYER = 1;
    /**
     * {@link #addNorm}'s residual modes: leave x alone, store the sum into x (the residual stream moves on), or store
     * the norm's f32 output into x (BLOOM's apply_residual_connection_post_layernorm).
     */
    public static final int KEEP_X = 0, X_GETS_SUM = 1, X_GETS_NORM = 2;

    private static final int MAX_ARGS = 20;
    /** Warps per paged_attention block, at most ATT_MAX_WARPS in kernels.cu; 0 lets {@link #pagedAttention} pick. */
    static int attentionWarps = 0;
    private final CUmod_st module = new CUmod_st();
    private final CUfunc_st embedGather, addRmsnorm, biasRopeQk, kvCacheWrite, pagedAttention, swiglu, argmax, convert,
            gemvOne, gemvSmall, addF32, pickRows;
    /** The most rows {@link #gemv} takes. */
    public static final int GEMV_MAX_N = 8;
    /** The most bytes of input rows {@link #gemv} stages in shared memory (the default dynamic limit). */
    public static final int GEMV_MAX_INPUT_BYTES = 48 << 10;
    private final LongPointer slots = new LongPointer(MAX_ARGS);
    private final PointerPointer<?> params = new PointerPointer<>(MAX_ARGS);
    private final CUstream_st stream;
    private int argc;
    /** Kernels looked up by name for {@link #call} (the ones outside the typed launchers below). */
    private final Map<String, CUfunc_st> byName = new HashMap<>();
    /** The functions of {@link #PDL_KERNELS}, by identity. */
    private final java.util.Set<CUfunc_st> pdlReady = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    private final CUlaunchConfig pdlConfig = new CUlaunchConfig();
    private final CUlaunchAttribute pdlAttribute = new CUlaunchAttribute();
    private boolean programmaticLaunch;

    /** The fatbin's bytes, from the class path. */
    public static byte[] fatbin() {
        try (InputStream in = KernelModule.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("resource " + RESOURCE + " is missing (the build compiles it with nvcc)");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public KernelModule(CUstream_st stream) {
        this.stream = stream;
        byte[] image = fatbin();
        BytePointer data = new BytePointer(image.length);
        data.put(image);
        Cuda.checkDriver(cuModuleLoadData(module, data), "cuModuleLoadData(kernels.fatbin)");
        data.close();
        embedGather = fn("embed_gather");
        addRmsnorm = fn("add_rmsnorm");
        biasRopeQk = fn("bias_rope_qk");
        kvCacheWrite = fn("kv_cache_write");
        pagedAttention = fn("paged_attention");
        swiglu = fn("swiglu");
        argmax = fn("argmax_rows");
        convert = fn("convert");
        gemvOne = fn("gemv_one");
        gemvSmall = fn("gemv_small");
        addF32 = fn("add_f32");
        pickRows = fn("pick_rows");
        for (int i = 0; i < MAX_ARGS; i++) {
            params.put(i, new Cuda.Addr(slots.address() + 8L * i));
        }
        pdlAttribute.id(CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
        pdlAttribute.value().programmaticStreamSerializationAllowed(1);
        pdlConfig.hStream(stream).attrs(pdlAttribute).numAttrs(1);
    }

    private CUfunc_st fn(String name) {
        CUfunc_st f = new CUfunc_st();
        Cuda.checkDriver(cuModuleGetFunction(f, module, name), "cuModuleGetFunction(" + name + ")");
        if (PDL_KERNELS.contains(name)) {
            pdlReady.add(f);
        }
        return f;
    }

    /**
     * Programmatic dependent launch (sm_90 and later): the kernels of {@link #PDL_KERNELS} are launched with
     * {@code CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION}, so each may be scheduled while the kernel before
     * it in the stream still runs; it waits in {@code griddepcontrol.wait} for that kernel's completion and memory
     * before reading anything, and releases its own dependents at once. A decode step is a chain of a few hundred
     * short kernels, and this overlaps each launch and ramp-up with the previous kernel's tail (also inside CUDA
     * graphs, which keep the programmatic edges). Off in a new module (GpuLlamaModel turns it on for sm_90);
     * refused below sm_90.
     */
    public KernelModule setProgrammaticLaunch(boolean on) {
        if (on && Cuda.computeCapability() < 90) {
            throw new IllegalStateException("programmatic dependent launch needs sm_90 or later");
        }
        programmaticLaunch = on;
        return this;
    }

    public boolean programmaticLaunch() {
        return programmaticLaunch;
    }

    public CUstream_st stream() {
        return stream;
    }

    /**
     * A launch of any kernel of the fatbin by its name, for the launchers that live beside their callers (attention
     * variants, sampling, collectives): {@code k.call("name").p(ptr).i(n).f(x).launch(gx, gy, block, sharedBytes)}.
     * Arguments in the kernel's order; one call at a time per module, as every launch here.
     */
    Call call(String kernel) {
        CUfunc_st f = byName.computeIfAbsent(kernel, this::fn);
        argc = 0;
        return new Call(f, kernel);
    }

    /** Dynamic shared memory limits raised so far, by kernel name (see {@link #allowShared}). */
    private final Map<String, Integer> sharedLimits = new HashMap<>();

    /**
     * Lets {@code kernel} take up to {@code bytes} of dynamic shared memory per block (above the default 48 KB a
     * launch needs CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES raised first); set once per kernel and size.
     */
    void allowShared(String kernel, int bytes) {
        Integer set = sharedLimits.get(kernel);
        if (set == null || set < bytes) {
            CUfunc_st f = byName.computeIfAbsent(kernel, this::fn);
            Cuda.checkDriver(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
                    "cuFuncSetAttribute(" + kernel + ", max dynamic shared " + bytes + ")");
            sharedLimits.put(kernel, bytes);
        }
    }

    /** One launch being assembled (see {@link #call}). */
    final class Call {
        private final CUfunc_st fn;
        private final String name;

        private Call(CUfunc_st fn, String name) {
            this.fn = fn;
            this.name = name;
        }

        Call p(long v) {
            KernelModule.this.p(v);
            return this;
        }

        Call i(int v) {
            KernelModule.this.i(v);
            return this;
        }

        Call f(float v) {
            KernelModule.this.f(v);
            return this;
        }

        void launch(int gx, int gy, int block, int sharedBytes) {
            KernelModule.this.launch(fn, name, gx, gy, block, sharedBytes);
        }
    }

    private KernelModule p(long v) {
        slots.put(argc++, v);
        return this;
    }

    private KernelModule i(int v) {
        slots.put(argc++, v & 0xffffffffL);
        return this;
    }

    private KernelModule f(float v) {
        slots.put(argc++, Float.floatToRawIntBits(v) & 0xffffffffL);
        return this;
    }

    private void launch(CUfunc_st fn, String name, int gx, int gy, int block) {
        launch(fn, name, gx, gy, block, 0);
    }

    private void launch(CUfunc_st fn, String name, int gx, int gy, int block, int sharedBytes) {
        int rc;
        if (programmaticLaunch && pdlReady.contains(fn)) {
            pdlConfig.gridDimX(gx).gridDimY(gy).gridDimZ(1).blockDimX(block).blockDimY(1).blockDimZ(1).sharedMemBytes(sharedBytes);
            rc = cuLaunchKernelEx(pdlConfig, fn, params, (PointerPointer<?>) null);
        } else {
            rc = cuLaunchKernel(fn, gx, gy, 1, block, 1, 1, sharedBytes, stream, params, (PointerPointer<?>) null);
        }
        argc = 0;
        Cuda.checkDriver(rc, "cuLaunchKernel(" + name + ", grid " + gx + "x" + gy + ", block " + block + ")");
    }

    /** x[t] = table[tokens[t]] for t < n. */
    public void embedGather(long x, long table, int dtype, long tokens, int hidden, int n) {
        embedGather(x, table, dtype, tokens, hidden, 0, F32, 0, n);
    }

    /** x[t] = table[tokens[t]] + posTable[positions[t]] for t < n (posTable 0: no position rows). */
    public void embedGather(long x, long table, int dtype, long tokens, int hidden, long posTable, int posType,
                            long positions, int n) {
        p(x).p(table).i(dtype).p(tokens).i(hidden).p(posTable).i(posType).p(positions);
        launch(embedGather, "embed_gather", n, 1, 256);
    }

    /** See kernels.cu: v = x[src] + delta[src] + bias; x[src] = v if writeBack; out[r] = rmsnorm(v) * w. */
    public void addRmsnorm(long x, long delta, long bias, long w, long out, int outType, long rows, int hidden, float eps,
                           boolean writeBack, int nRows) {
        p(x).p(delta).p(bias).p(w).p(out).i(outType).p(rows).i(hidden).f(eps).i(writeBack ? 1 : 0);
        launch(addRmsnorm, "add_rmsnorm", nRows, 1, addRmsnormThreads(hidden));
    }

    /** Bias and rotate-half rotary over the first 2 rotHalf elements of each q and k head, in place. */
    public void biasRopeQk(long qkv, long bias, long positions, long invFreq, float scale, int heads, int kvHeads,
                           int headDim, int rotHalf, int n) {
        biasRopeQk(qkv, bias, positions, invFreq, scale, heads, kvHeads, headDim, rotHalf, false, 0f, n);
    }

    /**
     * See kernels.cu: bias (0: none), clamp to [-clip, clip] (clip 0: none), then rotary over the first 2 rotHalf
     * elements of each q and k head (rotHalf 0: none), pairs (i, rotHalf + i) or, interleaved, (2i, 2i + 1).
     */
    public void biasRopeQk(long qkv, long bias, long positions, long invFreq, float scale, int heads, int kvHeads,
                           int headDim, int rotHalf, boolean interleaved, float clip, int n) {
        p(qkv).p(bias).p(positions).p(invFreq).f(scale).i(heads).i(kvHeads).i(headDim).i(rotHalf).i(interleaved ? 1 : 0).f(clip);
        launch(biasRopeQk, "bias_rope_qk", n, 1, 256);
    }

    /**
     * See kernels.cu: v = x[src] + (d1[src] + b1) + (d2[src] + b2) (any of them 0: absent); out[r] = norm(v) * w (+ nb)
     * as outType, {@code kind} {@link #NORM_RMS} or {@link #NORM_LAYER}, {@code mode} {@link #KEEP_X},
     * {@link #X_GETS_SUM} or {@link #X_GETS_NORM}; src = rows[r] when rows is not 0.
     */
    public void addNorm(long x, long d1, long b1, long d2, long b2, long w, long nb, long out, int outType, long rows,
                        int hidden, float eps, int kind, int mode, int nRows) {
        call("add_norm").p(x).p(d1).p(b1).p(d2).p(b2).p(w).p(nb).p(out).i(outType).p(rows).i(hidden).f(eps).i(kind).i(mode)
                .launch(nRows, 1, Math.min(1024, roundUp32(Math.max(32, hidden / 4))), 0);
    }

    /**
     * The MLP activation ({@code act}: the ordinal of TransformerSpec.Activation) with the up (and gate) bias, over
     * n rows of [gate | up] (gated) or [ffn] (plain), into n rows of ffn in outType.
     */
    public void biasAct(long in, long bias, long out, int outType, int ffn, int act, boolean gated, int n) {
        long total = (long) ffn * n;
        call("bias_act").p(in).p(bias).p(out).i(outType).i(ffn).i(act).i(gated ? 1 : 0).p(total)
                .launch((int) Math.min(65535, (total + 255) / 256), 1, 256, 0);
    }

    /** y[r][c] += bias[c] over rows x cols f32 (the LM head's bias). */
    public void addBiasRows(long y, long bias, int cols, int rows) {
        long total = (long) cols * rows;
        call("add_bias_rows").p(y).p(bias).i(cols).p(total).launch((int) Math.min(65535, (total + 255) / 256), 1, 256, 0);
    }

    /** out[rows][cols] (outType) = the input-major in ([cols][rows], inType) transposed. */
    public void transpose(long in, int inType, long out, int outType, int rows, int cols) {
        long total = (long) rows * cols;
        call("transpose_convert").p(in).i(inType).p(out).i(outType).i(rows).i(cols)
                .launch((int) Math.min(65535, (total + 255) / 256), 1, 256, 0);
    }

    /** Keys and values of n qkv rows into the paged cache of one layer, stored as kvType (F32 or BF16). */
    public void kvCacheWrite(long qkv, long kCache, long vCache, int kvType, long positions, long tableOff, long tables,
                             int qDim, int kvDim, int blockSize, int n) {
        p(qkv).p(kCache).p(vCache).i(kvType).p(positions).p(tableOff).p(tables).i(qDim).i(kvDim).i(blockSize);
        launch(kvCacheWrite, "kv_cache_write", n, 1, 128);
    }

    public void pagedAttention(long qkv, long out, int outType, long kCache, long vCache, int kvType, long positions,
                               long tableOff, long tables, int heads, int kvHeads, int headDim, int blockSize, float scale,
                               int window, int n) {
        pagedAttention(qkv, out, outType, kCache, vCache, kvType, positions, tableOff, tables, heads, kvHeads, headDim,
                blockSize, scale, window, 0, n);
    }

    /** The same with ALiBi: {@code slopes} f32 [heads] on the device (already multiplied by the scale where the family
     * adds the bias before scaling), or 0 for none. */
    public void pagedAttention(long qkv, long out, int outType, long kCache, long vCache, int kvType, long positions,
                               long tableOff, long tables, int heads, int kvHeads, int headDim, int blockSize, float scale,
                               int window, long slopes, int n) {
        if (headDim > 256) {
            throw new IllegalArgumentException("paged_attention handles head dims up to 256, got " + headDim);
        }
        p(qkv).p(out).i(outType).p(kCache).p(vCache).i(kvType).p(positions).p(tableOff).p(tables).i(heads).i(kvHeads)
                .i(headDim).i(blockSize).f(scale).i(window).p(slopes);
        // Few (token, head) blocks: 16 warps share each sequence; many: 4 warps, so more blocks fit per SM (the
        // head-dim 64/128/256 kernel takes 70 registers a thread: one 16-warp block per SM). H100, 2026-11-25: 16
        // warps at 4096 blocks and fewer won with the earlier kernel; with this one, 4 warps won at 8192 blocks
        // (batch 256) and 16 warps lost ground at 2048 (batch 64), hence the switch at 1024 blocks.
        int warps = attentionWarps > 0 ? attentionWarps : (long) n * heads > 1024 ? 4 : 16;
        if (slopes == 0) {
            launch(pagedAttention, "paged_attention", n, heads, 32 * warps);
        } else {
            launch(byName.computeIfAbsent("paged_attention_alibi", this::fn), "paged_attention_alibi", n, heads, 32 * warps);
        }
    }

    public void swiglu(long gu, long bias, long out, int outType, int ffn, int n) {
        long total = (long) ffn * n;
        p(gu).p(bias).p(out).i(outType).i(ffn).p(total);
        launch(swiglu, "swiglu", (int) Math.min(65535, (total + 255) / 256), 1, 256);
    }

    /** a[i] += b[i] for n floats (the device-local all-reduce's add). */
    public void add(long a, long b, long n) {
        p(a).p(b).p(n);
        launch(addF32, "add_f32", (int) Math.min(4096, (n + 255) / 256), 1, 256);
    }

    /** out[r] = logits[r][ids[r]] for each of rows rows (the value of each row's argmax). */
    public void pickRows(long logits, long ids, long out, int vocab, int rows) {
        p(logits).p(ids).p(out).i(vocab).i(rows);
        launch(pickRows, "pick_rows", (rows + 127) / 128, 1, 128);
    }

    public void argmax(long logits, long ids, int vocab, int rows) {
        p(logits).p(ids).i(vocab);
        launch(argmax, "argmax_rows", rows, 1, 1024);
    }

    /**
     * out[n][rows] (f32) = in[n][cols] · w[rows][cols]^T for n &lt;= {@link #GEMV_MAX_N}, w and in bf16 or f16, cols a
     * multiple of 8, n * cols * 2 bytes at most {@link #GEMV_MAX_INPUT_BYTES}: the small-batch linear layer (one warp
     * per output row).
     */
    public void gemv(long w, int type, int rows, int cols, long in, int n, long out) {
        if (!gemvTakes(type, cols, n)) {
            throw new IllegalArgumentException("gemv takes 1.." + GEMV_MAX_N + " bf16/f16 rows of a multiple of 8 columns, got n="
                    + n + ", cols=" + cols + ", type " + type);
        }
        int warpsPerBlock = 8;
        int grid = (rows + warpsPerBlock - 1) / warpsPerBlock;
        int shared = 2 * n * cols;
        if (n == 1) {
            p(w).p(in).p(out).i(type).i(rows).i(cols);
            launch(gemvOne, "gemv_one", grid, 1, 32 * warpsPerBlock, shared);
        } else {
            p(w).p(in).p(out).i(type).i(rows).i(cols).i(n);
            launch(gemvSmall, "gemv_small", grid, 1, 32 * warpsPerBlock, shared);
        }
    }

    /** Whether {@link #gemv} takes this product. */
    public static boolean gemvTakes(int type, int cols, int n) {
        return n >= 1 && n <= GEMV_MAX_N && cols % 8 == 0 && type != F32 && 2L * n * cols <= GEMV_MAX_INPUT_BYTES;
    }

    public void convert(long in, int inType, long out, int outType, long n) {
        p(in).i(inType).p(out).i(outType).p(n);
        launch(convert, "convert", (int) Math.min(65535, (n + 255) / 256), 1, 256);
    }

    /** add_rmsnorm's block size (a fused kernel that must give its bits uses the same: the sums' order follows it). */
    static int addRmsnormThreads(int hidden) {
        return Math.min(1024, roundUp32(Math.max(32, hidden / 4)));
    }

    private static int roundUp32(int v) {
        return (v + 31) & ~31;
    }

    @Override
    public void close() {
        cuModuleUnload(module);
        slots.close();
        params.close();
        pdlConfig.close();
        pdlAttribute.close();
    }
}
