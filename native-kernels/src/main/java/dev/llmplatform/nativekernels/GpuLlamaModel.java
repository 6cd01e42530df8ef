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
import dev.llmplatform.engine.runtime.EnergyMeter;
import dev.llmplatform.engine.runtime.EnergyMetered;
import dev.llmplatform.engine.runtime.SamplingRow;
import java.lang.foreign.MemorySegment;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Optional;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;

/**
 * A decoder of any family the CPU engine runs (llama, mistral, qwen2, gpt2, gptj, falcon, mpt, bloom) on one GPU
 * (the name stayed from when it ran the Llama family only), with the CPU {@link DecoderModel#forward} contract:
 * one pass over a {@link Batch} of tokens from any sequences (prompt chunks and decode steps mixed), keys and
 * values written into each sequence's paged {@link KvCache} (same block tables as the CPU; the block contents live
 * in a device arena per {@link KvBlockPool}), logits of the tokens that want them copied into {@code logits}.
 * {@link #forwardGreedy} does the same but picks the argmax on the GPU and copies back only the ids.
 *
 * <p>Per layer, as {@link DecoderModel}'s layer (the reference) composes it from the {@link TransformerSpec}: residual
 * add fused with the norm (RMSNorm, or LayerNorm with or without bias), one fused QKV GEMM (wq|wk|wv concatenated at
 * load, or the family's fused matrix with its rows reordered at load into [q heads | k heads | v heads]), bias,
 * clip_qkv and rotary (rotate-half or interleaved, whole or partial), KV write, paged attention (one launch for the
 * batch; GQA/MQA, sliding window, ALiBi), o-proj GEMM, then the MLP: SwiGLU over one fused gate|up GEMM, or a plain
 * up GEMM with bias and GELU/ReLU, and the down GEMM. Sequential blocks add the attention output before the MLP's
 * norm; parallel ones (GPT-J, Falcon) feed the MLP the attention's normed input (or a second norm of the same
 * residual) and add both outputs before the next block's norm. Learned position rows are added at the embedding
 * gather (GPT-2, MPT), BLOOM normalises the embeddings, GPT-J's LM head has a bias. Input-major weights (GPT-2's
 * Conv1D) are transposed at load, so every GEMM reads [out][in].
 * GEMMs through cuBLASLt with the weights as stored (bf16/f16/f32) and f32 accumulation; the residual stream,
 * q/k/v and GEMM outputs are f32; the KV cache is f32, or bf16 for pools made after {@link #setKvCacheBf16}
 * (half the bytes that decode attention reads). {@link Precision#F32} upcasts bf16/f16 weights to f32 at load
 * (twice the memory) to compute as transformers' float32 references do.
 *
 * <p>Batches in which every token wants logits (decode steps) of up to {@link DecodeGraphs#MAX_BUCKET} tokens run as
 * CUDA graphs, padded to a bucket size ({@link DecodeGraphs}); padding rows read and write a scratch block of the KV
 * arena that no sequence owns. {@link #setCudaGraphs} turns this off (every pass launched kernel by kernel).
 *
 * <p>The runner meters its GPU's energy through NVML ({@link EnergyMetered}), so an {@code EngineRuntime} driving it
 * charges every step's joules to its sequences.
 *
 * <p>A tensor-parallel rank ({@link GpuTensorParallelModel}, Llama family only) is one of these over its shard of the weights, on its
 * device, with a {@link Shard}: its KV arena holds only its heads of each block, the attention output and down
 * projections are followed by the group's all-reduce (row-parallel biases are added once, after it, by the fused
 * residual add), and its LM head covers its vocabulary slice; the embedding is whole on every rank.
 *
 * <p>Not thread-safe; every call must come from the thread that made it (the CUDA context is per thread).
 */
public final class GpuLlamaModel implements ModelRunner, EnergyMetered, DeviceKvBudget {

    /** How the linear layers compute. */
    public enum Precision {
        /** GEMM inputs in the weights' own type (bf16 weights: bf16 x bf16, f32 accumulate). */
        AS_STORED,
        /** Weights upcast to f32 at load; f32 GEMMs. */
        F32
    }

    /**
     * What makes a runner a tensor-parallel rank: its device, the KV width of the scheduler's pools (the whole
     * model's; the rank stores only its heads) and its side of the group's all-reduce.
     */
    record Shard(int device, int poolKvDim, ReduceGroup.Rank allReduce) {
    }

    private final String name;
    private final TransformerSpec spec;
    private final int device, poolKvDim;
    private final ReduceGroup.Rank allReduce; // null: the whole model
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
    private final int rotHalf;           // rotary pairs per head (rotaryDim / 2), 0 without rotary
    // What distinguishes the families (TransformerSpec), fixed at load.
    private final int normKind;          // KernelModule.NORM_RMS or NORM_LAYER
    private final boolean parallel;      // GPT-J, Falcon: attention and MLP read the same residual stream
    private final boolean residualFromNorm; // BLOOM's apply_residual_connection_post_layernorm (sequential blocks)
    private final boolean gated, swiglu; // gate|up MLP; SwiGLU, which keeps the Llama path's own kernel
    private final int act;               // TransformerSpec.Activation ordinal, for bias_act
    private final boolean interleaved;   // GPT-J's rotary pairing (2i, 2i + 1)
    private final float clip;            // MPT's clip_qkv, 0 for none
    // f32 device vectors, 0 where the family has none: LayerNorm biases per layer (norm2[l] itself is 0 in a parallel
    // block with one norm), BLOOM's embedding norm, the final norm's bias, the LM head's bias, learned position rows
    // (in posEmbeddingType), ALiBi slopes [layers][heads] (scaled per layer where the family adds them before scaling).
    private final long[] norm1Bias, norm2Bias;
    private final long embNorm, embNormBias, finalNormBias, lmHeadBias, posEmbedding, alibi;
    private final int posEmbeddingType;
    /** A pool's device storage: keys and values of every layer, capacity + 1 blocks (the last one is scratch). */
    private record KvArena(long keys, long values, long layerBytes, int type, int scratchBlock) {
    }

    private final Map<KvBlockPool, KvArena> arenas = new IdentityHashMap<>();
    private final Map<KvBlockPool, DecodeGraphs> graphs = new IdentityHashMap<>();
    private long weightBytes;
    private boolean cudaGraphs = true;
    private int kvType = KernelModule.F32;
    private int gemvMaxTokens = 1;
    private Optional<EnergyMeter> energyMeter;

    // The graphs' step metadata: tokens[b] | positions[b] | tableOff[b] | block tables (scratch block first).
    private long graphMeta, graphHostMeta;
    private int graphMetaCapacity;
    private int[] graphMetaArr = new int[0];

    // Per-batch device buffers, sized for `capacity` tokens and `rowCapacity` logit rows.
    private int capacity, rowCapacity, metaCapacity;
    private long x, xn, qkv, att, proj, gu, mlpA, mlpOut, hOut, logitsDev, ids, vals, meta;
    private long hostMeta, hostLogits, hostIds, hostVals;
    // Test and benchmark hooks of a rank: a failure thrown while enqueueing this layer (-1: none), and all-reduces
    // left out (wrong results; TpBench times steps with and without them).
    private int failAtLayer = -1;
    private boolean allReduceSkipped;
    // A rank's product whose all-reduce waits for the next norm, which fuses both (0: none), and its rows.
    private long unreduced;
    private int unreducedRows;
    private int hostLogitsCapacity;
    private int[] metaArr = new int[0];
    /** Flash-style prefill attention: the tiles of the current eager pass when it takes that kernel. */
    private final PrefillAttention prefill = new PrefillAttention();
    private GpuSampler sampler; // made on the first sampled step

    public GpuLlamaModel(DecoderModel cpu, Precision precision) {
        this(cpu.name(), cpu.spec(), cpu.weights(), precision, null);
    }

    /** A runner over {@code w} (a rank's shard when {@code shard} is given), made on the calling thread. */
    GpuLlamaModel(String name, TransformerSpec spec, ModelWeights w, Precision precision, Shard shard) {
        this.name = name;
        this.spec = spec;
        if (shard == null) {
            requireSupported(spec, w, name);
        } else {
            // Tensor parallelism keeps to the Llama family: the engine's ShardPlan cuts the other families' weights
            // (fused QKV layouts, LayerNorm biases, ALiBi slopes) in ways this runner's rank path has not been checked on.
            requireLlamaFamily(spec, name);
        }
        device = shard == null ? 0 : shard.device();
        allReduce = shard == null ? null : shard.allReduce();
        h = spec.hidden();
        qDim = spec.qDim();
        kvDim = spec.kvDim();
        width = qDim + 2 * kvDim;
        ffn = spec.ffn();
        vocab = w.lmHead().rows(); // a rank's vocabulary slice
        poolKvDim = shard == null ? kvDim : shard.poolKvDim();
        layers = spec.layers();
        eps = spec.norm().eps();
        RotaryEmbedding rope = spec.rope();
        rotHalf = rope == null ? 0 : rope.rotaryDim() / 2;
        ropeScale = rope == null ? 1f : rope.scale();
        interleaved = rope != null && rope.interleaved();
        normKind = spec.norm().kind() == TransformerSpec.NormSpec.Kind.RMS ? KernelModule.NORM_RMS : KernelModule.NORM_LAYER;
        parallel = spec.parallelResidual();
        residualFromNorm = spec.residualFromNorm() && !parallel; // the engine's parallel blocks ignore it
        gated = spec.gatedMlp();
        swiglu = gated && spec.activation() == TransformerSpec.Activation.SILU;
        act = spec.activation().ordinal();
        clip = spec.clipQkv();
        WeightMatrix first = w.layers()[0].fused() != null ? w.layers()[0].fused().w() : w.layers()[0].wq();
        type = precision == Precision.F32 ? KernelModule.F32 : kernelType(first.dtype(), first.name());

        Cuda.init(device);
        stream = Cuda.newStream();
        k = new KernelModule(stream);
        // On by default where it exists (H100, 2026-11-25: +1-2% at batch 1 on one GPU, +5% at TP=2, logits identical).
        k.setProgrammaticLaunch(Cuda.computeCapability() >= 90);
        blas = new CublasLt(stream);
        if (allReduce != null) {
            allReduce.bind(stream, k);
        }

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
        boolean layerNorm = normKind == KernelModule.NORM_LAYER;
        norm1Bias = new long[layers];
        norm2Bias = new long[layers];
        for (int l = 0; l < layers; l++) {
            LayerWeights lw = w.layers()[l];
            LayerWeights.FusedQkv fused = lw.fused();
            if (fused != null) {
                int[] starts = qkvStarts(spec, fused);
                wQkv[l] = uploadFusedQkv(fused.w(), starts);
                bQkv[l] = fused.bias() == null ? 0 : uploadFloats(qkvOrder(fused.bias(), starts, spec.headDim()));
            } else {
                wQkv[l] = uploadMatrices(lw.wq(), lw.wk(), lw.wv());
                bQkv[l] = uploadBiases(new float[][] {lw.bq(), lw.bk(), lw.bv()}, new int[] {qDim, kvDim, kvDim});
            }
            wO[l] = uploadMatrices(lw.wo());
            wGu[l] = gated ? uploadMatrices(lw.wGate(), lw.wUp()) : uploadMatrices(lw.wUp());
            wDown[l] = uploadMatrices(lw.wDown());
            bO[l] = uploadBiases(new float[][] {lw.bo()}, new int[] {h});
            bGu[l] = gated ? uploadBiases(new float[][] {lw.bGate(), lw.bUp()}, new int[] {ffn, ffn})
                    : uploadBiases(new float[][] {lw.bUp()}, new int[] {ffn});
            bDown[l] = uploadBiases(new float[][] {lw.bDown()}, new int[] {h});
            norm1[l] = uploadFloats(lw.norm1Weight());
            norm2[l] = uploadFloats(lw.norm2Weight());
            // The engine's RMSNorm has no bias (Kernels.rmsNorm ignores one), so neither has ours.
            norm1Bias[l] = layerNorm ? uploadFloats(lw.norm1Bias()) : 0;
            norm2Bias[l] = layerNorm ? uploadFloats(lw.norm2Bias()) : 0;
        }
        Tensor emb = w.tokenEmbedding();
        embeddingType = kernelType(emb.dtype(), emb.name());
        embedding = uploadRaw(emb.data());
        WeightMatrix head = w.lmHead();
        boolean tied = head.data().address() == emb.data().address() && head.dtype() == emb.dtype() && type == embeddingType;
        lmHead = tied ? embedding : uploadMatrices(head);
        finalNorm = uploadFloats(w.finalNormWeight());
        finalNormBias = layerNorm ? uploadFloats(w.finalNormBias()) : 0;
        lmHeadBias = uploadFloats(w.lmHeadBias());
        embNorm = uploadFloats(w.embeddingNormWeight());
        embNormBias = uploadFloats(w.embeddingNormBias());
        Tensor pos = w.positionEmbedding();
        posEmbeddingType = pos == null ? KernelModule.F32 : kernelType(pos.dtype(), pos.name());
        posEmbedding = pos == null ? 0 : uploadRaw(pos.data());
        invFreq = rope == null ? 0 : uploadFloats(rope.invFreq());
        alibi = spec.alibiSlopes() == null ? 0 : uploadFloats(alibiSlopes(spec));
        Cuda.sync(stream);
    }

    /**
     * The engine's slope of each (layer, head), [layers][heads]: {@code slopes[head]}, times the layer's attention
     * scale where the family adds ALiBi before scaling the scores (Falcon), as DecoderModel's AttentionTask computes it.
     */
    static float[] alibiSlopes(TransformerSpec s) {
        float[] slopes = s.alibiSlopes();
        float[] all = new float[s.layers() * s.heads()];
        for (int l = 0; l < s.layers(); l++) {
            float mul = s.alibiScaledWithScores() ? s.attentionScale()[l] : 1f;
            for (int head = 0; head < s.heads(); head++) {
                all[l * s.heads() + head] = slopes[head] * mul;
            }
        }
        return all;
    }

    /**
     * The first row of each head's slice of a fused QKV output, in the order the kernels read a qkv row: q heads,
     * then k heads, then v heads (the families store them [q | k | v], or grouped per KV head, see
     * {@link LayerWeights.FusedQkv}).
     */
    static int[] qkvStarts(TransformerSpec spec, LayerWeights.FusedQkv f) {
        int nq = f.qOffset().length, nkv = f.kOffset().length;
        if (nq != spec.heads() || nkv != spec.kvHeads() || f.w().rows() != spec.qDim() + 2 * spec.kvDim()) {
            throw new IllegalArgumentException("tensor " + f.w().name() + ": a fused QKV of " + nq + "/" + nkv + " heads and "
                    + f.w().rows() + " rows does not fit " + spec.heads() + "/" + spec.kvHeads() + " heads of " + spec.headDim());
        }
        int[] starts = new int[nq + 2 * nkv];
        System.arraycopy(f.qOffset(), 0, starts, 0, nq);
        System.arraycopy(f.kOffset(), 0, starts, nq, nkv);
        System.arraycopy(f.vOffset(), 0, starts, nq + nkv, nkv);
        return starts;
    }

    /** A fused QKV bias in the kernels' order: head slice s of the result is {@code bias[starts[s] ..]}. */
    static float[] qkvOrder(float[] bias, int[] starts, int hd) {
        float[] out = new float[starts.length * hd];
        for (int s = 0; s < starts.length; s++) {
            System.arraycopy(bias, starts[s], out, s * hd, hd);
        }
        return out;
    }

    /**
     * A fused QKV matrix on the device with its rows in the kernels' order ([q heads | k heads | v heads], head slice
     * s from rows {@code starts[s] ..}): as stored when the family already stores it so (GPT-2, MPT, Falcon-7B), else
     * uploaded whole and its head slices copied into place (BLOOM's and Falcon's grouped [q.. k v] layouts).
     */
    private long uploadFusedQkv(WeightMatrix m, int[] starts) {
        int hd = spec.headDim();
        boolean inOrder = true;
        for (int s = 0; s < starts.length; s++) {
            inOrder &= starts[s] == s * hd;
        }
        if (inOrder) {
            return uploadMatrices(m);
        }
        long stored = stackMatrices(m);
        long rowBytes = (long) m.cols() * bytesOf(type);
        long d = Cuda.malloc(width * rowBytes);
        for (int s = 0; s < starts.length; s++) {
            Cuda.copyDevice(d + (long) s * hd * rowBytes, stored + (long) starts[s] * rowBytes, hd * rowBytes, stream);
        }
        Cuda.sync(stream);
        Cuda.free(stored);
        weightBytes += width * rowBytes;
        return d;
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

    /**
     * What the single-GPU runner refuses, with the reason; every family of the engine passes (tensor parallelism
     * keeps to {@link #requireLlamaFamily}). Left out: head dims over 256 (paged_attention holds a head row in one
     * warp's registers, 8 elements a lane), query heads that are not a multiple of the KV heads, weights other than
     * plain F32/BF16/F16 (quantized INT8/INT4 and GGUF blocks have no GPU kernels here), and a sequential block
     * without its second norm (the engine's DecoderModel would fail on it too).
     */
    static void requireSupported(TransformerSpec s, ModelWeights w, String name) {
        String why = null;
        if (s.headDim() > 256) {
            why = "head_dim " + s.headDim() + ", over 256";
        } else if (s.kvHeads() <= 0 || s.heads() % s.kvHeads() != 0) {
            why = s.heads() + " query heads over " + s.kvHeads() + " KV heads";
        } else {
            for (LayerWeights l : w.layers()) {
                for (WeightMatrix m : new WeightMatrix[] {l.wq(), l.wk(), l.wv(), l.fused() == null ? null : l.fused().w(),
                        l.wo(), l.wGate(), l.wUp(), l.wDown()}) {
                    if (m != null && why == null && !plainFloat(m)) {
                        why = "weights of " + m.dtype() + (m.quant() != null ? " with scales" : "") + " (" + m.name() + ")";
                    }
                }
                if (why == null && !s.parallelResidual() && l.norm2Weight() == null) {
                    why = "a sequential block without a second norm";
                }
            }
            if (why == null && !plainFloat(w.lmHead())) {
                why = "an LM head of " + w.lmHead().dtype();
            }
        }
        if (why != null) {
            throw new IllegalArgumentException(name + ": the GPU runner does not handle " + why);
        }
    }

    private static boolean plainFloat(WeightMatrix m) {
        return m.quant() == null && (m.dtype() == DType.F32 || m.dtype() == DType.BF16 || m.dtype() == DType.F16);
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
        return t == KernelModule.F32 ? 4 : t == KernelModule.FP8_E4M3 ? 1 : 2;
    }

    private long uploadRaw(MemorySegment seg) {
        long d = Cuda.malloc(seg.byteSize());
        Cuda.copyToDevice(d, seg.address(), seg.byteSize(), stream);
        Cuda.sync(stream);
        weightBytes += seg.byteSize();
        return d;
    }

    /** The matrices stacked row-wise ([sum rows][cols]) on the device, in {@link #type}, counted as weights. */
    private long uploadMatrices(WeightMatrix... ms) {
        long d = stackMatrices(ms);
        for (WeightMatrix m : ms) {
            weightBytes += (long) m.rows() * m.cols() * bytesOf(type);
        }
        return d;
    }

    /** {@link #uploadMatrices} without counting (a temporary copy). */
    private long stackMatrices(WeightMatrix... ms) {
        long total = 0;
        for (WeightMatrix m : ms) {
            if (m.quant() != null) {
                throw new IllegalArgumentException("tensor " + m.name() + ": the GPU runner reads plain float weights");
            }
            total += (long) m.rows() * m.cols();
        }
        long d = Cuda.malloc(total * bytesOf(type));
        long off = 0;
        for (WeightMatrix m : ms) {
            long count = (long) m.rows() * m.cols();
            int src = kernelType(m.dtype(), m.name());
            if (m.inputMajor()) {
                // GPT-2's Conv1D stores [in][out]: transposed once here, so that every product reads [out][in].
                long tmp = Cuda.malloc(m.data().byteSize());
                Cuda.copyToDevice(tmp, m.data().address(), m.data().byteSize(), stream);
                k.transpose(tmp, src, d + off * bytesOf(type), type, m.rows(), m.cols());
                Cuda.sync(stream);
                Cuda.free(tmp);
            } else if (src == type) {
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
        return d;
    }

    /** The vector in f32 on the device, or 0 for null (an absent bias or norm). */
    private long uploadFloats(float[] v) {
        if (v == null) {
            return 0;
        }
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

    /** Keys and values of one position over all layers, in the KV type of pools made from now on (this rank's heads). */
    @Override
    public long kvBytesPerPosition() {
        return 2L * layers * kvDim * bytesOf(kvType);
    }

    /** {free, total} bytes of this runner's device now. */
    @Override
    public long[] deviceMemory() {
        Cuda.init(device);
        return Cuda.memInfo();
    }

    /** Bytes of weights on the device. */
    public long weightBytes() {
        return weightBytes;
    }

    /** Whether decode steps run as CUDA graphs (default on); off, every pass is launched kernel by kernel. */
    public GpuLlamaModel setCudaGraphs(boolean on) {
        cudaGraphs = on;
        return this;
    }

    /**
     * Programmatic dependent launch of the runner's kernels ({@link KernelModule#setProgrammaticLaunch}, sm_90 and
     * later; on by default there): each kernel may be scheduled while the one before it finishes. Graphs captured under the
     * other setting are dropped, so it applies to every pass from now on.
     */
    public GpuLlamaModel setProgrammaticLaunch(boolean on) {
        if (on != k.programmaticLaunch()) {
            clearGraphs();
            k.setProgrammaticLaunch(on);
        }
        return this;
    }

    public boolean programmaticLaunch() {
        return k.programmaticLaunch();
    }

    /** Whether pools made from now on keep keys and values in bf16 (default: f32). */
    public GpuLlamaModel setKvCacheBf16(boolean on) {
        return setKvCacheType(on ? KernelModule.BF16 : KernelModule.F32);
    }

    /**
     * The element type of the keys and values of pools made from now on: {@link KernelModule#F32} (the default),
     * {@link KernelModule#BF16} (half the bytes decode attention reads) or {@link KernelModule#FP8_E4M3} (a quarter:
     * values rounded to E4M3 with scale 1, saturating at +-448, as vLLM's fp8 cache without calibrated scales;
     * prompt chunks then attend with paged_attention, not the flash kernel).
     */
    public GpuLlamaModel setKvCacheType(int type) {
        if (type != KernelModule.F32 && type != KernelModule.BF16 && type != KernelModule.FP8_E4M3) {
            throw new IllegalArgumentException("KV cache type " + type + ": expected F32, BF16 or FP8_E4M3");
        }
        kvType = type;
        return this;
    }

    public int kvCacheType() {
        return kvType;
    }

    /**
     * Linear layers over at most this many tokens (0 to {@link KernelModule#GEMV_MAX_N}) use the streaming GEMV
     * kernel (bf16/f16 weights) instead of cuBLASLt. Default 1: at one token it beats cuBLASLt on the H100 (decode
     * 710 vs 650 tok/s on the Llama-3.2-1B shape, 163 vs 151 on Llama-2-7B, 2026-11-25); at eight tokens it loses
     * (3,594 vs 4,755 on 1B) or ties (1,106 vs 1,107 on 7B). GpuBench measures both again.
     */
    public GpuLlamaModel setGemvMaxTokens(int tokens) {
        if (tokens < 0 || tokens > KernelModule.GEMV_MAX_N) {
            throw new IllegalArgumentException("GEMV takes 0.." + KernelModule.GEMV_MAX_N + " tokens, got " + tokens);
        }
        if (tokens != gemvMaxTokens) {
            clearGraphs();
        }
        gemvMaxTokens = tokens;
        return this;
    }

    public int gemvMaxTokens() {
        return gemvMaxTokens;
    }

    /** Graphs captured so far, over all pools and buckets. */
    public int graphCaptures() {
        int n = 0;
        for (DecodeGraphs g : graphs.values()) {
            n += g.captures();
        }
        return n;
    }

    /** NVML's energy counter of this runner's GPU (device 0), or empty where NVML cannot read one. */
    @Override
    public Optional<EnergyMeter> energyMeter() {
        if (energyMeter == null) {
            energyMeter = NvmlEnergyMeter.forCudaDevice(device).map(m -> (EnergyMeter) m);
        }
        return energyMeter;
    }

    /** A shared KV pool; its device arena (keys and values of every layer, f32 or bf16) is allocated now. */
    @Override
    public KvBlockPool newKvPool(int blockSize, int maxBlocks) {
        KvBlockPool pool = new KvBlockPool(layers, poolKvDim, blockSize, maxBlocks, false);
        arena(pool);
        return pool;
    }

    @Override
    public KvCache newCache(KvBlockPool pool) {
        return new KvCache(pool, spec.contextLength());
    }

    /** Allocates a scheduler pool's device arena now (a rank: its heads only). */
    void attach(KvBlockPool pool) {
        arena(pool);
    }

    /** Frees the device arena (and the graphs) of a pool no longer used. */
    public void releaseKvPool(KvBlockPool pool) {
        DecodeGraphs g = graphs.remove(pool);
        if (g != null) {
            Cuda.sync(stream);
            g.close();
        }
        KvArena a = arenas.remove(pool);
        if (a != null) {
            Cuda.free(a.keys());
            Cuda.free(a.values());
        }
    }

    private KvArena arena(KvBlockPool pool) {
        KvArena a = arenas.get(pool);
        if (a == null) {
            if (pool.kvDim() != poolKvDim || pool.layers() != layers) {
                throw new IllegalArgumentException("KV pool of " + pool.layers() + " layers x " + pool.kvDim()
                        + " does not fit " + name + " (" + layers + " x " + poolKvDim + ")");
            }
            int t = kvType;
            long layerBytes = (long) (pool.capacityBlocks() + 1) * pool.blockSize() * kvDim * bytesOf(t);
            a = new KvArena(Cuda.malloc(layers * layerBytes), Cuda.malloc(layers * layerBytes), layerBytes, t, pool.capacityBlocks());
            arenas.put(pool, a);
        }
        return a;
    }

    /** Destroys every captured graph: a buffer they were captured with is about to move. */
    private void clearGraphs() {
        if (!graphs.isEmpty()) {
            Cuda.sync(stream);
            for (DecodeGraphs g : graphs.values()) {
                g.clear();
            }
        }
    }

    private void ensureCapacity(int n, int rows, int metaInts) {
        if (n > capacity) {
            int c = Math.max(n, capacity * 2);
            clearGraphs();
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
            if (allReduce != null) {
                allReduce.reserve((long) c * h);
            }
        }
        if (rows > rowCapacity) {
            int c = Math.max(rows, rowCapacity * 2);
            clearGraphs();
            Cuda.free(logitsDev);
            Cuda.free(ids);
            Cuda.free(vals);
            Cuda.freeHost(hostIds);
            Cuda.freeHost(hostVals);
            logitsDev = Cuda.malloc(4L * c * vocab);
            ids = Cuda.malloc(4L * c);
            vals = Cuda.malloc(4L * c);
            hostIds = Cuda.mallocHost(4L * c);
            hostVals = Cuda.mallocHost(4L * c);
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
        if (rows > 0 && logits.length < (long) rows * vocab) {
            throw new IllegalArgumentException("logits buffer holds " + logits.length + " floats, need " + rows + " x " + vocab);
        }
        copyLogits(rows, logits, vocab, 0);
    }

    /** The forward pass with greedy sampling on the GPU: {@code nextIds[r]} is the argmax of logits row r. */
    @Override
    public boolean forwardGreedy(Batch batch, int[] nextIds) {
        argmaxRows(run(batch), nextIds, null);
        return true;
    }

    /**
     * The forward pass with sampling on the GPU ({@link GpuSampler}: the engine's SamplingRule in sampling.cuh), after
     * the pass (graph or not) on the same stream, as the greedy argmax: {@code nextIds[r]} for logits row r by
     * {@code rows[r]}; only the ids come back.
     */
    @Override
    public boolean forwardSampled(Batch batch, SamplingRow[] rows, int[] nextIds) {
        int n = run(batch);
        if (sampler == null) {
            sampler = new GpuSampler(k, stream);
        }
        sampler.sample(logitsDev, vocab, rows, n, nextIds);
        return true;
    }

    /**
     * A rank's step (positions already checked and reserved by the group): its logits rows, its vocabulary slice of
     * each, go into columns {@code [column, column + slice)} of rows of {@code rowWidth} floats of {@code logits}.
     */
    void rankForward(Batch batch, float[] logits, int rowWidth, int column) {
        copyLogits(runReserved(batch, batch.cache(0).pool()), logits, rowWidth, column);
    }

    /** A rank's greedy step: each row's argmax within this rank's vocabulary slice (local ids) and its logit. */
    int rankGreedy(Batch batch, int[] localIds, float[] values) {
        int rows = runReserved(batch, batch.cache(0).pool());
        argmaxRows(rows, localIds, values);
        return rows;
    }

    private void copyLogits(int rows, float[] logits, int rowWidth, int column) {
        if (rows == 0) {
            return;
        }
        if (rows * vocab > hostLogitsCapacity) {
            Cuda.freeHost(hostLogits);
            hostLogits = Cuda.mallocHost(4L * rows * vocab);
            hostLogitsCapacity = rows * vocab;
        }
        Cuda.copyToHost(hostLogits, logitsDev, 4L * rows * vocab, stream);
        Cuda.sync(stream);
        try (FloatPointer p = new FloatPointer(new Cuda.Addr(hostLogits))) {
            if (rowWidth == vocab) {
                p.get(logits, 0, rows * vocab);
            } else {
                for (int r = 0; r < rows; r++) {
                    p.position((long) r * vocab).get(logits, r * rowWidth + column, vocab);
                }
            }
        }
    }

    /** ids[r] = argmax of logits row r, and values[r] its logit when values is given. */
    private void argmaxRows(int rows, int[] outIds, float[] values) {
        if (rows == 0) {
            return;
        }
        k.argmax(logitsDev, ids, vocab, rows);
        Cuda.copyToHost(hostIds, ids, 4L * rows, stream);
        if (values != null) {
            k.pickRows(logitsDev, ids, vals, vocab, rows);
            Cuda.copyToHost(hostVals, vals, 4L * rows, stream);
        }
        Cuda.sync(stream);
        try (IntPointer p = new IntPointer(new Cuda.Addr(hostIds))) {
            p.get(outIds, 0, rows);
        }
        if (values != null) {
            try (FloatPointer p = new FloatPointer(new Cuda.Addr(hostVals))) {
                p.get(values, 0, rows);
            }
        }
    }

    /** Test hook: the next passes throw while enqueueing layer {@code layer} (-1: never), as a failing rank would. */
    void failAtLayer(int layer) {
        failAtLayer = layer;
    }

    /** Benchmark hook: leaves the all-reduces out (wrong results) to time a step without them. */
    void skipAllReduce(boolean skip) {
        if (skip != allReduceSkipped) {
            clearGraphs();
        }
        allReduceSkipped = skip;
    }

    /** This rank's stream (the group's benchmarks enqueue their own all-reduces on it). */
    CUstream_st stream() {
        return stream;
    }

    /** This rank's kernels (bound to {@link #stream()}). */
    KernelModule kernels() {
        return k;
    }

    /** The CUDA device this runner computes on. */
    int device() {
        return device;
    }

    /**
     * Enqueues the whole pass up to the logits on the device (as a CUDA graph where it can); returns the number of
     * logit rows, which {@code logitsDev} then holds in batch order.
     */
    private int run(Batch batch) {
        if (batch.size() == 0) {
            return 0;
        }
        return runReserved(batch, checkAndReserve(batch, vocab, spec.contextLength(), name));
    }

    /** {@link #run} after the checks and reservations (which a tensor-parallel group makes once for all ranks). */
    private int runReserved(Batch batch, KvBlockPool pool) {
        int n = batch.size();
        if (n == 0) {
            return 0;
        }
        int rows = batch.logitRows();
        KvArena arena = arena(pool);
        int tableInts = tableInts(batch);
        boolean graphable = cudaGraphs && (allReduce == null || allReduce.capturable());
        if (graphable && rows == n && n <= DecodeGraphs.MAX_BUCKET) {
            runGraphed(batch, pool, arena, tableInts);
            return rows;
        }
        // meta: tokens[n] | positions[n] | tableOff[n] | logit rows[n] | block tables | prefill attention tiles
        int metaInts = 4 * n + tableInts;
        ensureCapacity(n, rows, metaInts + PrefillAttention.metaInts(n));
        int[] m = metaArr;
        fillMeta(batch, m, n, 4 * n, 0);
        int r = 0;
        for (int t = 0; t < n; t++) {
            if (batch.wantsLogits(t)) {
                m[3 * n + r++] = t;
            }
        }
        metaInts += prefill.plan(m, n, n, 2 * n, metaInts, meta, spec.heads(), spec.kvHeads(), spec.headDim(),
                spec.slidingWindow(), type, spec.alibiSlopes() != null);
        upload(m, metaInts, hostMeta, meta);
        enqueuePass(n, rows, meta, meta + 4L * n, meta + 8L * n, meta + 16L * n, meta + 12L * n, arena, pool.blockSize());
        return rows;
    }

    /**
     * A batch whose tokens all want logits, padded to its bucket and run through that bucket's graph. Padding
     * tokens are id 0 at position 0 of a sequence whose only block is the arena's scratch block.
     */
    private void runGraphed(Batch batch, KvBlockPool pool, KvArena arena, int tableInts) {
        int n = batch.size();
        int b = DecodeGraphs.bucket(n);
        ensureCapacity(b, b, 0);
        int ints = 3 * b + 1 + tableInts;
        if (ints > graphMetaCapacity) {
            int c = Math.max(ints, Math.max(3 * DecodeGraphs.MAX_BUCKET + 4097, graphMetaCapacity * 2));
            clearGraphs();
            Cuda.free(graphMeta);
            Cuda.freeHost(graphHostMeta);
            graphMeta = Cuda.malloc(4L * c);
            graphHostMeta = Cuda.mallocHost(4L * c);
            graphMetaArr = new int[c];
            graphMetaCapacity = c;
        }
        int[] m = graphMetaArr;
        m[3 * b] = arena.scratchBlock();
        fillMeta(batch, m, b, 3 * b, 1);
        for (int t = n; t < b; t++) {
            m[t] = 0;
            m[b + t] = 0;
            m[2 * b + t] = 0;
        }
        upload(m, ints, graphHostMeta, graphMeta);
        long dTokens = graphMeta, dPos = graphMeta + 4L * b, dTableOff = graphMeta + 8L * b, dTables = graphMeta + 12L * b;
        int bs = pool.blockSize();
        graphs.computeIfAbsent(pool, p -> new DecodeGraphs())
                .run(b, stream, () -> enqueuePass(b, b, dTokens, dPos, dTableOff, dTables, 0, arena, bs));
    }

    /** Checks ids and positions, reserves every position's KV block; returns the batch's (single) pool. */
    static KvBlockPool checkAndReserve(Batch batch, int vocab, int contextLength, String name) {
        KvBlockPool pool = batch.cache(0).pool();
        for (int t = 0; t < batch.size(); t++) {
            int id = batch.token(t);
            int p = batch.position(t);
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + name + " (ids 0.." + (vocab - 1) + ")");
            }
            if (p < 0 || p >= contextLength) {
                throw new IllegalArgumentException("position " + p + " is outside the context of " + name + " (" + contextLength + " tokens)");
            }
            KvCache c = batch.cache(t);
            if (c.pool() != pool) {
                throw new IllegalArgumentException("the GPU runner needs every sequence of a batch in one KV pool");
            }
            c.reserve(p);
        }
        return pool;
    }

    /** Block-table entries the batch needs: each run of consecutive tokens of one sequence shares one table. */
    private static int tableInts(Batch batch) {
        int ints = 0;
        KvCache prev = null;
        for (int t = 0; t < batch.size(); t++) {
            KvCache c = batch.cache(t);
            if (c != prev) {
                ints += c.blockCount();
                prev = c;
            }
        }
        return ints;
    }

    /**
     * Writes tokens at m[0..), positions at m[stride..), table offsets at m[2 stride..) and the block tables at
     * m[tablesAt + first..) (offsets relative to tablesAt).
     */
    private static void fillMeta(Batch batch, int[] m, int stride, int tablesAt, int first) {
        int next = first;
        int off = 0;
        KvCache prev = null;
        for (int t = 0; t < batch.size(); t++) {
            KvCache c = batch.cache(t);
            m[t] = batch.token(t);
            m[stride + t] = batch.position(t);
            if (c != prev) {
                off = next;
                for (int b = 0; b < c.blockCount(); b++) {
                    m[tablesAt + next++] = c.block(b);
                }
                prev = c;
            }
            m[2 * stride + t] = off;
        }
    }

    private void upload(int[] m, int ints, long host, long device) {
        try (IntPointer hp = new IntPointer(new Cuda.Addr(host))) {
            hp.put(m, 0, ints);
        }
        Cuda.copyToDevice(device, host, 4L * ints, stream);
    }

    /**
     * The pass's kernels and GEMMs for n tokens, reading ids, positions and tables from the given device buffers;
     * the logits of {@code rows} tokens (rows {@code dRows}, or the first {@code rows} when dRows is 0) land in
     * {@code logitsDev}. Everything it enqueues depends only on its arguments, so it can be captured.
     */
    private void enqueuePass(int n, int rows, long dTokens, long dPos, long dTableOff, long dTables, long dRows,
                             KvArena arena, int bs) {
        unreduced = 0;
        k.embedGather(x, embedding, embeddingType, dTokens, h, posEmbedding, posEmbeddingType, dPos, n);
        if (embNorm != 0) {
            // BLOOM's word_embeddings_layernorm (a LayerNorm whatever the blocks use), in place on the f32 stream.
            k.addNorm(x, 0, 0, 0, 0, embNorm, embNormBias, x, KernelModule.F32, 0, h, eps, KernelModule.NORM_LAYER,
                    KernelModule.KEEP_X, n);
        }
        int seqMode = residualFromNorm ? KernelModule.X_GETS_NORM : KernelModule.X_GETS_SUM;
        for (int l = 0; l < layers; l++) {
            if (l == failAtLayer) {
                throw new IllegalStateException("injected failure of " + name + " on device " + device + " at layer " + l);
            }
            long kL = arena.keys() + l * arena.layerBytes();
            long vL = arena.values() + l * arena.layerBytes();
            // The block's first norm, after the previous block's outputs join the residual stream (their row-parallel
            // biases with them, once, after a rank's all-reduce): the MLP's output, or in a parallel block both.
            if (l == 0) {
                norm(0, 0, 0, 0, norm1[l], norm1Bias[l], xn, 0, residualFromNorm ? KernelModule.X_GETS_NORM : KernelModule.KEEP_X, n);
            } else if (parallel) {
                norm(proj, bO[l - 1], mlpOut, bDown[l - 1], norm1[l], norm1Bias[l], xn, 0, KernelModule.X_GETS_SUM, n);
            } else {
                norm(mlpOut, bDown[l - 1], 0, 0, norm1[l], norm1Bias[l], xn, 0, seqMode, n);
            }
            linear(wQkv[l], type, width, h, xn, n, qkv);
            if (bQkv[l] != 0 || clip > 0 || rotHalf > 0) {
                k.biasRopeQk(qkv, bQkv[l], dPos, invFreq, ropeScale, spec.heads(), spec.kvHeads(), spec.headDim(), rotHalf,
                        interleaved, clip, n);
            }
            k.kvCacheWrite(qkv, kL, vL, arena.type(), dPos, dTableOff, dTables, qDim, kvDim, bs, n);
            if (alibi != 0 || !prefill.attention(k, qkv, att, type, kL, vL, arena.type(), dPos, dTableOff, dTables, spec.heads(),
                    spec.kvHeads(), spec.headDim(), bs, spec.attentionScale()[l], spec.slidingWindow(), n)) {
                k.pagedAttention(qkv, att, type, kL, vL, arena.type(), dPos, dTableOff, dTables, spec.heads(), spec.kvHeads(),
                        spec.headDim(), bs, spec.attentionScale()[l], spec.slidingWindow(),
                        alibi == 0 ? 0 : alibi + 4L * l * spec.heads(), n);
            }
            linear(wO[l], type, h, qDim, att, n, proj);
            reduce(proj, n);
            if (!parallel) {
                norm(proj, bO[l], 0, 0, norm2[l], norm2Bias[l], xn, 0, seqMode, n);
            } else if (norm2[l] != 0) {
                // Falcon's new decoder architecture: the MLP's own norm of the same residual stream.
                norm(0, 0, 0, 0, norm2[l], norm2Bias[l], xn, 0, KernelModule.KEEP_X, n);
            } // else (GPT-J, Falcon-7B) the MLP reads xn as it is: the attention's normed input
            linear(wGu[l], type, gated ? 2 * ffn : ffn, h, xn, n, gu);
            if (swiglu) {
                k.swiglu(gu, bGu[l], mlpA, type, ffn, n);
            } else {
                k.biasAct(gu, bGu[l], mlpA, type, ffn, act, gated, n);
            }
            linear(wDown[l], type, h, ffn, mlpA, n, mlpOut);
            reduce(mlpOut, n);
        }
        if (rows > 0) {
            int last = layers - 1;
            if (parallel) {
                norm(proj, bO[last], mlpOut, bDown[last], finalNorm, finalNormBias, hOut, dRows, KernelModule.KEEP_X, rows);
            } else {
                norm(mlpOut, bDown[last], 0, 0, finalNorm, finalNormBias, hOut, dRows, KernelModule.KEEP_X, rows);
            }
            linear(lmHead, type, vocab, h, hOut, rows, logitsDev);
            if (lmHeadBias != 0) {
                k.addBiasRows(logitsDev, lmHeadBias, vocab, rows);
            }
        }
        // No logits wanted (a prompt chunk): the last layer's output is not needed, on any rank, so its all-reduce
        // is left out everywhere alike.
        unreduced = 0;
    }

    /**
     * The residual add fused with a norm: {@code x[src] + (d1 + b1) + (d2 + b2)} (any 0: absent) normalised with
     * weight w (and LayerNorm bias nb) into out, in {@link #type}, for rows {@code dRows} (0: the first count); mode
     * as {@link KernelModule#addNorm}. The Llama family's case (RMSNorm, one delta, no norm bias) runs add_rmsnorm, the
     * kernel it ran before the other families came; everything else runs add_norm.
     */
    private void norm(long d1, long b1, long d2, long b2, long w, long nb, long out, long dRows, int mode, int count) {
        if (unreduced != 0) {
            long buf = unreduced;
            unreduced = 0;
            if (d1 == buf && d2 == 0 && b2 == 0 && nb == 0 && normKind == KernelModule.NORM_RMS && mode == KernelModule.X_GETS_SUM
                    && dRows == 0 && count == unreducedRows) {
                allReduce.sumAddRmsnorm(buf, count, h, x, b1, w, out, type, eps);
                return;
            }
            allReduce.sum(buf, (long) unreducedRows * h); // not the fusable shape: sum now, then the norm as usual
        }
        if (normKind == KernelModule.NORM_RMS && d2 == 0 && b2 == 0 && nb == 0 && mode != KernelModule.X_GETS_NORM) {
            k.addRmsnorm(x, d1, b1, w, out, type, dRows, h, eps, mode == KernelModule.X_GETS_SUM, count);
        } else {
            k.addNorm(x, d1, b1, d2, b2, w, nb, out, type, dRows, h, eps, normKind, mode, count);
        }
    }

    /** A rank's all-reduce of a row-parallel product's partial sums ([n][hidden] f32), before its bias is added. */
    private void reduce(long buf, int n) {
        if (allReduce != null && !allReduceSkipped) {
            if (normKind == KernelModule.NORM_RMS && !parallel && allReduce.fusesAddRmsnorm(n, h)) {
                // Left for the norm that comes next, which sums it in the same kernel (see norm).
                unreduced = buf;
                unreducedRows = n;
            } else {
                allReduce.sum(buf, (long) n * h);
            }
        }
    }

    /** out[n][rows] (f32) = in[n][cols] · w^T: the GEMV kernel for a few tokens, cuBLASLt otherwise. */
    private void linear(long w, int wType, int rows, int cols, long in, int n, long out) {
        if (n <= gemvMaxTokens && KernelModule.gemvTakes(wType, cols, n)) {
            k.gemv(w, wType, rows, cols, in, n, out);
        } else {
            blas.gemm(w, wType, rows, cols, in, n, out);
        }
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
        for (DecodeGraphs g : graphs.values()) {
            g.close();
        }
        graphs.clear();
        if (sampler != null) {
            sampler.close();
        }
        freeActivations();
        for (long p : new long[] {logitsDev, ids, vals, meta, graphMeta}) {
            Cuda.free(p);
        }
        Cuda.freeHost(hostVals);
        Cuda.freeHost(hostMeta);
        Cuda.freeHost(graphHostMeta);
        Cuda.freeHost(hostLogits);
        Cuda.freeHost(hostIds);
        for (long[] a : new long[][] {wQkv, wO, wGu, wDown, bQkv, bO, bGu, bDown, norm1, norm2, norm1Bias, norm2Bias}) {
            for (long p : a) {
                Cuda.free(p);
            }
        }
        if (lmHead != embedding) {
            Cuda.free(lmHead);
        }
        Cuda.free(embedding);
        for (long p : new long[] {finalNorm, finalNormBias, lmHeadBias, embNorm, embNormBias, posEmbedding, invFreq, alibi}) {
            Cuda.free(p);
        }
        blas.close();
        k.close();
    }
}
