package dev.llmplatform.nativekernels;

import dev.llmplatform.engine.arch.Batch;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.arch.LayerWeights;
import dev.llmplatform.engine.arch.ModelRunner;
import dev.llmplatform.engine.arch.ModelWeights;
import dev.llmplatform.engine.arch.TransformerSpec;
import dev.llmplatform.engine.cpu.KvBlockPool;
import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.cpu.RotaryEmbedding;
import dev.llmplatform.engine.cpu.WeightMatrix;
import dev.llmplatform.engine.model.DType;
import dev.llmplatform.engine.model.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.IdentityHashMap;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;

/**
 * A Llama-family decoder (llama, mistral, qwen2) on one GPU, with the CPU {@link DecoderModel#forward} contract:
 * one pass over a {@link Batch} of tokens from any sequences (prompt chunks and decode steps mixed), keys and
 * values written into each sequence's paged {@link KvCache} (same block tables as the CPU; the block contents live
 * in a device arena per {@link KvBlockPool}), logits of the tokens that want them copied into {@code logits}.
 * {@link #forwardGreedy} does the same but picks the argmax on the GPU and copies back only the ids.
 *
 * <p>Per layer: add+RMSNorm, one fused QKV GEMM (wq|wk|wv concatenated at load), bias + rotary, KV write,
 * paged attention (one launch for the batch), o-proj GEMM, add+RMSNorm, one fused gate|up GEMM, SwiGLU, down GEMM.
 * GEMMs through cuBLASLt with the weights as stored (bf16/f16/f32) and f32 accumulation; the residual stream,
 * q/k/v, GEMM outputs and the KV cache are f32. {@link Precision#F32} upcasts bf16/f16 weights to f32 at load
 * (twice the memory) to compute as transformers' float32 references do.
 *
 * <p>Not thread-safe; every call must come from the thread that made it (the CUDA context is per thread).
 */
public final class GpuLlamaModel implements ModelRunner {

    /** How the linear layers compute. */
    public enum Precision {
        /** GEMM inputs in the weights' own type (bf16 weights: bf16 x bf16, f32 accumulate). */
        AS_STORED,
        /** Weights upcast to f32 at load; f32 GEMMs. */
        F32
    }

    private final String name;
    private final TransformerSpec spec;
    private final int type;          // element type of the weights on the device and of GEMM inputs
    private final int h, qDim, kvDim, width, ffn, vocab, layers;
    private final float eps;
    private final CUstream_st stream;
    private final KernelModule k;
    private final CublasLt blas;
    private final long[] wQkv, wO, wGu, wDown;        // device weights per layer
    private final long[] bQkv, bO, bGu, bDown, norm1, norm2; // f32 device vectors per layer (biases may be 0)
    private final long embedding, lmHead, finalNorm, invFreq;
    private final int embeddingType;
    private final float ropeScale;
    private final int rotHalf;
    private final Map<KvBlockPool, long[]> arenas = new IdentityHashMap<>();
    private long weightBytes;

    // Per-batch device buffers, sized for `capacity` tokens and `rowCapacity` logit rows.
    private int capacity, rowCapacity, metaCapacity;
    private long x, xn, qkv, att, proj, gu, mlpA, mlpOut, hOut, logitsDev, ids, meta;
    private long hostMeta, hostLogits, hostIds;
    private int hostLogitsCapacity;
    private int[] metaArr = new int[0];

    public GpuLlamaModel(DecoderModel cpu, Precision precision) {
        this.name = cpu.name();
        this.spec = cpu.spec();
        requireLlamaFamily(spec, name);
        ModelWeights w = cpu.weights();
        h = spec.hidden();
        qDim = spec.qDim();
        kvDim = spec.kvDim();
        width = qDim + 2 * kvDim;
        ffn = spec.ffn();
        vocab = spec.vocab();
        layers = spec.layers();
        eps = spec.norm().eps();
        RotaryEmbedding rope = spec.rope();
        rotHalf = rope.rotaryDim() / 2;
        ropeScale = rope.scale();
        DType stored = w.layers()[0].wq().dtype();
        type = precision == Precision.F32 ? KernelModule.F32 : kernelType(stored, w.layers()[0].wq().name());

        Cuda.init(0);
        stream = Cuda.newStream();
        k = new KernelModule(stream);
        blas = new CublasLt(stream);

        wQkv = new long[layers];
        wO = new long[layers];
        wGu = new long[layers];
        wDown = new long[layers];
        bQkv = new long[layers];
        bO = new long[layers];
        bGu = new long[layers];
        bDown = new long[layers];
        norm1 = new long[layers];
        norm2 = new long[layers];
        for (int l = 0; l < layers; l++) {
            LayerWeights lw = w.layers()[l];
            wQkv[l] = uploadMatrices(lw.wq(), lw.wk(), lw.wv());
            wO[l] = uploadMatrices(lw.wo());
            wGu[l] = uploadMatrices(lw.wGate(), lw.wUp());
            wDown[l] = uploadMatrices(lw.wDown());
            bQkv[l] = uploadBiases(new float[][] {lw.bq(), lw.bk(), lw.bv()}, new int[] {qDim, kvDim, kvDim});
            bO[l] = uploadBiases(new float[][] {lw.bo()}, new int[] {h});
            bGu[l] = uploadBiases(new float[][] {lw.bGate(), lw.bUp()}, new int[] {ffn, ffn});
            bDown[l] = uploadBiases(new float[][] {lw.bDown()}, new int[] {h});
            norm1[l] = uploadFloats(lw.norm1Weight());
            norm2[l] = uploadFloats(lw.norm2Weight());
        }
        Tensor emb = w.tokenEmbedding();
        embeddingType = kernelType(emb.dtype(), emb.name());
        embedding = uploadRaw(emb.data());
        WeightMatrix head = w.lmHead();
        boolean tied = head.data().address() == emb.data().address() && head.dtype() == emb.dtype() && type == embeddingType;
        lmHead = tied ? embedding : uploadMatrices(head);
        finalNorm = uploadFloats(w.finalNormWeight());
        invFreq = uploadFloats(rope.invFreq());
        Cuda.sync(stream);
    }

    static void requireLlamaFamily(TransformerSpec s, String name) {
        String why = null;
        if (s.norm().kind() != TransformerSpec.NormSpec.Kind.RMS) {
            why = "LayerNorm";
        } else if (s.rope() == null || s.rope().interleaved()) {
            why = "no rotate-half rotary embedding";
        } else if (s.alibiSlopes() != null) {
            why = "ALiBi";
        } else if (s.parallelResidual() || s.residualFromNorm()) {
            why = "a non-sequential residual";
        } else if (!s.gatedMlp() || s.activation() != TransformerSpec.Activation.SILU) {
            why = "an MLP other than SwiGLU";
        } else if (s.clipQkv() > 0) {
            why = "clip_qkv";
        } else if (s.headDim() > 256) {
            why = "head_dim over 256";
        }
        if (why != null) {
            throw new IllegalArgumentException(name + ": the GPU runner handles the Llama family (llama, mistral, qwen2); this model has " + why);
        }
    }

    private static int kernelType(DType d, String tensor) {
        return switch (d) {
            case F32 -> KernelModule.F32;
            case BF16 -> KernelModule.BF16;
            case F16 -> KernelModule.F16;
            default -> throw new IllegalArgumentException("tensor " + tensor + " is " + d + "; the GPU runner reads F32, BF16 or F16 weights");
        };
    }

    private static int bytesOf(int t) {
        return t == KernelModule.F32 ? 4 : 2;
    }

    private long uploadRaw(MemorySegment seg) {
        long d = Cuda.malloc(seg.byteSize());
        Cuda.copyToDevice(d, seg.address(), seg.byteSize(), stream);
        Cuda.sync(stream);
        weightBytes += seg.byteSize();
        return d;
    }

    /** The matrices stacked row-wise ([sum rows][cols]) on the device, in {@link #type}. */
    private long uploadMatrices(WeightMatrix... ms) {
        long total = 0;
        for (WeightMatrix m : ms) {
            if (m.quant() != null || m.inputMajor()) {
                throw new IllegalArgumentException("tensor " + m.name() + ": the GPU runner reads plain row-major float weights");
            }
            total += (long) m.rows() * m.cols();
        }
        long d = Cuda.malloc(total * bytesOf(type));
        long off = 0;
        for (WeightMatrix m : ms) {
            long count = (long) m.rows() * m.cols();
            int src = kernelType(m.dtype(), m.name());
            if (src == type) {
                Cuda.copyToDevice(d + off * bytesOf(type), m.data().address(), m.data().byteSize(), stream);
                Cuda.sync(stream);
            } else {
                long tmp = Cuda.malloc(m.data().byteSize());
                Cuda.copyToDevice(tmp, m.data().address(), m.data().byteSize(), stream);
                k.convert(tmp, src, d + off * bytesOf(type), type, count);
                Cuda.sync(stream);
                Cuda.free(tmp);
            }
            off += count;
        }
        weightBytes += total * bytesOf(type);
        return d;
    }

    private long uploadFloats(float[] v) {
        long d = Cuda.malloc(4L * v.length);
        try (FloatPointer p = new FloatPointer(v)) {
            Cuda.copyToDevice(d, p.address(), 4L * v.length, stream);
            Cuda.sync(stream);
        }
        return d;
    }

    /** The biases concatenated in f32 (zeros for absent ones), or 0 when all are absent. */
    private long uploadBiases(float[][] parts, int[] sizes) {
        boolean any = false;
        int n = 0;
        for (int i = 0; i < parts.length; i++) {
            any |= parts[i] != null;
            n += sizes[i];
        }
        if (!any) {
            return 0;
        }
        float[] all = new float[n];
        int o = 0;
        for (int i = 0; i < parts.length; i++) {
            if (parts[i] != null) {
                System.arraycopy(parts[i], 0, all, o, sizes[i]);
            }
            o += sizes[i];
        }
        return uploadFloats(all);
    }

    @Override
    public String name() {
        return name;
    }

    public TransformerSpec spec() {
        return spec;
    }

    @Override
    public int vocabSize() {
        return vocab;
    }

    @Override
    public int contextLength() {
        return spec.contextLength();
    }

    /** Bytes of weights on the device. */
    public long weightBytes() {
        return weightBytes;
    }

    /** A shared KV pool; its device arena (f32 keys and values of every layer) is allocated now. */
    @Override
    public KvBlockPool newKvPool(int blockSize, int maxBlocks) {
        KvBlockPool pool = new KvBlockPool(layers, kvDim, blockSize, maxBlocks, false);
        arena(pool);
        return pool;
    }

    @Override
    public KvCache newCache(KvBlockPool pool) {
        return new KvCache(pool, spec.contextLength());
    }

    /** Frees the device arena of a pool no longer used. */
    public void releaseKvPool(KvBlockPool pool) {
        long[] a = arenas.remove(pool);
        if (a != null) {
            Cuda.free(a[0]);
            Cuda.free(a[1]);
        }
    }

    private long[] arena(KvBlockPool pool) {
        long[] a = arenas.get(pool);
        if (a == null) {
            if (pool.kvDim() != kvDim || pool.layers() != layers) {
                throw new IllegalArgumentException("KV pool of " + pool.layers() + " layers x " + pool.kvDim()
                        + " does not fit " + name + " (" + layers + " x " + kvDim + ")");
            }
            long bytes = (long) layers * pool.capacityBlocks() * pool.blockSize() * kvDim * 4;
            a = new long[] {Cuda.malloc(bytes), Cuda.malloc(bytes), (long) pool.capacityBlocks() * pool.blockSize() * kvDim * 4};
            arenas.put(pool, a);
        }
        return a;
    }

    private void ensureCapacity(int n, int rows, int metaInts) {
        if (n > capacity) {
            int c = Math.max(n, capacity * 2);
            freeActivations();
            int act = bytesOf(type);
            x = Cuda.malloc(4L * c * h);
            xn = Cuda.malloc((long) act * c * h);
            qkv = Cuda.malloc(4L * c * width);
            att = Cuda.malloc((long) act * c * qDim);
            proj = Cuda.malloc(4L * c * h);
            gu = Cuda.malloc(4L * c * 2 * ffn);
            mlpA = Cuda.malloc((long) act * c * ffn);
            mlpOut = Cuda.malloc(4L * c * h);
            hOut = Cuda.malloc((long) act * c * h);
            capacity = c;
        }
        if (rows > rowCapacity) {
            int c = Math.max(rows, rowCapacity * 2);
            Cuda.free(logitsDev);
            Cuda.free(ids);
            Cuda.freeHost(hostIds);
            logitsDev = Cuda.malloc(4L * c * vocab);
            ids = Cuda.malloc(4L * c);
            hostIds = Cuda.mallocHost(4L * c);
            rowCapacity = c;
        }
        if (metaInts > metaCapacity) {
            int c = Math.max(metaInts, metaCapacity * 2);
            Cuda.free(meta);
            Cuda.freeHost(hostMeta);
            meta = Cuda.malloc(4L * c);
            hostMeta = Cuda.mallocHost(4L * c);
            metaArr = new int[c];
            metaCapacity = c;
        }
    }

    private void freeActivations() {
        for (long p : new long[] {x, xn, qkv, att, proj, gu, mlpA, mlpOut, hOut}) {
            Cuda.free(p);
        }
    }

    /** Same contract as {@link DecoderModel#forward}: logits rows of the tokens that want them, in batch order. */
    @Override
    public void forward(Batch batch, float[] logits) {
        int rows = run(batch);
        if (rows == 0) {
            return;
        }
        if (logits.length < (long) rows * vocab) {
            throw new IllegalArgumentException("logits buffer holds " + logits.length + " floats, need " + rows + " x " + vocab);
        }
        if (rows * vocab > hostLogitsCapacity) {
            Cuda.freeHost(hostLogits);
            hostLogits = Cuda.mallocHost(4L * rows * vocab);
            hostLogitsCapacity = rows * vocab;
        }
        Cuda.copyToHost(hostLogits, logitsDev, 4L * rows * vocab, stream);
        Cuda.sync(stream);
        try (FloatPointer p = new FloatPointer(new Cuda.Addr(hostLogits))) {
            p.get(logits, 0, rows * vocab);
        }
    }

    /** The forward pass with greedy sampling on the GPU: {@code nextIds[r]} is the argmax of logits row r. */
    @Override
    public boolean forwardGreedy(Batch batch, int[] nextIds) {
        int rows = run(batch);
        if (rows == 0) {
            return true;
        }
        k.argmax(logitsDev, ids, vocab, rows);
        Cuda.copyToHost(hostIds, ids, 4L * rows, stream);
        Cuda.sync(stream);
        try (IntPointer p = new IntPointer(new Cuda.Addr(hostIds))) {
            p.get(nextIds, 0, rows);
        }
        return true;
    }

    /** Enqueues the whole pass up to the logits on the device; returns the number of logit rows. */
    private int run(Batch batch) {
        int n = batch.size();
        if (n == 0) {
            return 0;
        }
        int rows = batch.logitRows();
        KvBlockPool pool = batch.cache(0).pool();
        int tableInts = 0;
        KvCache prev = null;
        for (int t = 0; t < n; t++) {
            int id = batch.token(t);
            int p = batch.position(t);
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + name + " (ids 0.." + (vocab - 1) + ")");
            }
            if (p < 0 || p >= spec.contextLength()) {
                throw new IllegalArgumentException("position " + p + " is outside the context of " + name + " (" + spec.contextLength() + " tokens)");
            }
            KvCache c = batch.cache(t);
            if (c.pool() != pool) {
                throw new IllegalArgumentException("the GPU runner needs every sequence of a batch in one KV pool");
            }
            c.reserve(p);
        }
        for (int t = 0; t < n; t++) {
            KvCache c = batch.cache(t);
            if (c != prev) {
                tableInts += c.blockCount();
                prev = c;
            }
        }
        int metaInts = 4 * n + tableInts;
        ensureCapacity(n, rows, metaInts);
        long[] arena = arena(pool);
        // meta: tokens[n] | positions[n] | tableOff[n] | logit rows[n] | block tables
        int[] m = metaArr;
        int tables = 4 * n;
        int next = 0;
        int r = 0;
        prev = null;
        int prevOff = 0;
        for (int t = 0; t < n; t++) {
            KvCache c = batch.cache(t);
            m[t] = batch.token(t);
            m[n + t] = batch.position(t);
            if (c != prev) {
                prevOff = next;
                for (int b = 0; b < c.blockCount(); b++) {
                    m[tables + next++] = c.block(b);
                }
                prev = c;
            }
            m[2 * n + t] = prevOff;
            if (batch.wantsLogits(t)) {
                m[3 * n + r++] = t;
            }
        }
        try (IntPointer hp = new IntPointer(new Cuda.Addr(hostMeta))) {
            hp.put(m, 0, metaInts);
        }
        Cuda.copyToDevice(meta, hostMeta, 4L * metaInts, stream);
        long dTokens = meta, dPos = meta + 4L * n, dTableOff = meta + 8L * n, dRows = meta + 12L * n, dTables = meta + 16L * n;

        int bs = pool.blockSize();
        float scale = spec.attentionScale()[0];
        k.embedGather(x, embedding, embeddingType, dTokens, h, n);
        for (int l = 0; l < layers; l++) {
            long kL = arena[0] + l * arena[2];
            long vL = arena[1] + l * arena[2];
            if (l == 0) {
                k.addRmsnorm(x, 0, 0, norm1[l], xn, type, 0, h, eps, false, n);
            } else {
                k.addRmsnorm(x, mlpOut, bDown[l - 1], norm1[l], xn, type, 0, h, eps, true, n);
            }
            blas.gemm(wQkv[l], type, width, h, xn, n, qkv);
            k.biasRopeQk(qkv, bQkv[l], dPos, invFreq, ropeScale, spec.heads(), spec.kvHeads(), spec.headDim(), rotHalf, n);
            k.kvCacheWrite(qkv, kL, vL, dPos, dTableOff, dTables, qDim, kvDim, bs, n);
            k.pagedAttention(qkv, att, type, kL, vL, dPos, dTableOff, dTables, spec.heads(), spec.kvHeads(),
                    spec.headDim(), bs, spec.attentionScale()[l], spec.slidingWindow(), n);
            blas.gemm(wO[l], type, h, qDim, att, n, proj);
            k.addRmsnorm(x, proj, bO[l], norm2[l], xn, type, 0, h, eps, true, n);
            blas.gemm(wGu[l], type, 2 * ffn, h, xn, n, gu);
            k.swiglu(gu, bGu[l], mlpA, type, ffn, n);
            blas.gemm(wDown[l], type, h, ffn, mlpA, n, mlpOut);
        }
        if (rows > 0) {
            k.addRmsnorm(x, mlpOut, bDown[layers - 1], finalNorm, hOut, type, dRows, h, eps, false, rows);
            blas.gemm(lmHead, type, vocab, h, hOut, rows, logitsDev);
        }
        assert scale > 0;
        return rows;
    }

    /** Waits for the device (for timing). */
    public void synchronize() {
        Cuda.sync(stream);
    }

    @Override
    public void close() {
        Cuda.sync(stream);
        for (KvBlockPool p : arenas.keySet().toArray(new KvBlockPool[0])) {
            releaseKvPool(p);
        }
        freeActivations();
        for (long p : new long[] {logitsDev, ids, meta}) {
            Cuda.free(p);
        }
        Cuda.freeHost(hostMeta);
        Cuda.freeHost(hostLogits);
        Cuda.freeHost(hostIds);
        for (long[] a : new long[][] {wQkv, wO, wGu, wDown, bQkv, bO, bGu, bDown, norm1, norm2}) {
            for (long p : a) {
                Cuda.free(p);
            }
        }
        if (lmHead != embedding) {
            Cuda.free(lmHead);
        }
        Cuda.free(embedding);
        Cuda.free(finalNorm);
        Cuda.free(invFreq);
        blas.close();
        k.close();
    }
}
