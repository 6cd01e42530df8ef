package dev.llmplatform.nativekernels;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.llmplatform.engine.arch.Architectures;
import dev.llmplatform.engine.arch.Batch;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.arch.LayerWeights;
import dev.llmplatform.engine.arch.ModelWeights;
import dev.llmplatform.engine.arch.TransformerSpec;
import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.cpu.WeightMatrix;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.DType;
import dev.llmplatform.engine.model.SafetensorsFile;
import dev.llmplatform.engine.model.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Needs no GPU: {@link GpuLlamaModel}'s pass composed from the kernels' CPU twins, call for call in the order and with
 * the arguments of {@code GpuLlamaModel.enqueuePass} (norm kinds and residual modes, fused-QKV row order, the Conv1D
 * transpose, ALiBi slopes, activations, biases), against transformers' logits of each hf-tiny fixture. The GPU run
 * ({@code GpuVerify kernels}) checks each kernel against its twin; this checks that the runner composes them into
 * each family's decoder. If enqueuePass changes, this mirror must change with it.
 */
class FamilyPassTwinTest {

    @ParameterizedTest
    @ValueSource(strings = {"llama", "mistral", "qwen2", "gpt2", "gptj", "falcon", "mpt", "bloom"})
    void shouldComputeEachFamilyFromTheTwinsInTheRunnersOrder(String arch) throws Exception {
        Path dir = LlamaFamilyTest.hfTiny(arch);
        try (WorkerPool pool = new WorkerPool(1); DecoderModel m = Architectures.load(dir, pool); Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> ref = SafetensorsFile.open(dir.resolve("reference.safetensors"), arena).tensors();
            int[] prompt = Arrays.stream(ref.get("input_ids").toLongArray()).mapToInt(Math::toIntExact).toArray();
            float[] expected = ref.get("logits").toFloatArray();
            GpuLlamaModel.requireSupported(m.spec(), m.weights(), arch);
            float[] logits = pass(m.spec(), m.weights(), prompt);
            assertClose(arch + " vs transformers", logits, expected, 1e-4);
            float[] cpu = new float[logits.length];
            m.forward(new Batch(prompt.length).addSequence(prompt, 0, prompt.length, 0, m.newCache(), true), cpu);
            assertClose(arch + " vs the CPU engine", logits, cpu, 1e-5);
        }
    }

    /**
     * The same with random biases and norm parameters (the fixtures' are zeros and ones), on the fixture and on the
     * variants GpuVerify runs on the GPU ({@link GpuVerify#variants}: choices of the families that no fixture makes),
     * against the CPU engine on the same spec and weights.
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama", "mistral", "qwen2", "gpt2", "gptj", "falcon", "mpt", "bloom"})
    void shouldPlaceEveryBiasAndNormParameterAsTheEngineDoes(String arch) throws Exception {
        Path dir = LlamaFamilyTest.hfTiny(arch);
        try (WorkerPool pool = new WorkerPool(1); DecoderModel m = Architectures.load(dir, pool); Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> ref = SafetensorsFile.open(dir.resolve("reference.safetensors"), arena).tensors();
            int[] prompt = Arrays.stream(ref.get("input_ids").toLongArray()).mapToInt(Math::toIntExact).toArray();
            float[] plain = new float[prompt.length * m.spec().vocab()];
            m.forward(new Batch(prompt.length).addSequence(prompt, 0, prompt.length, 0, m.newCache(), true), plain);
            float[] unvaried = null;
            for (GpuVerify.Variant v : GpuVerify.variants(arch, m.spec(), m.weights())) {
                GpuLlamaModel.requireSupported(v.spec(), v.weights(), v.label());
                ModelWeights pw = GpuVerify.perturbed(v.spec(), v.weights(), 7);
                float[] logits = pass(v.spec(), pw, prompt);
                float[] cpu = new float[logits.length];
                try (DecoderModel p = new DecoderModel(v.label(), v.spec(), pw, null, pool)) {
                    p.forward(new Batch(prompt.length).addSequence(prompt, 0, prompt.length, 0, p.newCache(), true), cpu);
                }
                assertClose(v.label() + " with random biases and norms vs the CPU engine", logits, cpu, 1e-5);
                // The noise, and each variant's change, must matter, or this checks nothing new.
                if (unvaried == null) {
                    assertTrue(!closeEnough(cpu, plain, 1e-3), v.label() + ": the random biases and norms changed nothing");
                    unvaried = cpu;
                } else {
                    assertTrue(!closeEnough(cpu, unvaried, 1e-3), v.label() + ": the variant changed nothing");
                }
            }
        }
    }

    static boolean closeEnough(float[] a, float[] b, double tol) {
        double maxAbs = 0, maxRef = 0;
        for (int i = 0; i < b.length; i++) {
            maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
            maxRef = Math.max(maxRef, Math.abs(b[i]));
        }
        return maxAbs / maxRef <= tol;
    }

    static void assertClose(String what, float[] got, float[] want, double tol) {
        double maxAbs = 0, maxRef = 0;
        for (int i = 0; i < want.length; i++) {
            assumeTrue(!Float.isNaN(want[i]));
            maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]));
            maxRef = Math.max(maxRef, Math.abs(want[i]));
        }
        double rel = maxAbs / maxRef;
        assertTrue(rel <= tol && got.length == want.length, what + ": relative difference " + rel + " (tolerance " + tol + ")");
    }

    /** The runner's pass over one sequence's whole prompt, every token wanting logits. */
    static float[] pass(TransformerSpec s, ModelWeights w, int[] tokens) {
        int n = tokens.length, h = s.hidden(), hd = s.headDim(), qDim = s.qDim(), kvDim = s.kvDim(), width = qDim + 2 * kvDim;
        int ffn = s.ffn(), vocab = w.lmHead().rows(), layers = s.layers();
        float eps = s.norm().eps();
        TransformerSpec.NormSpec.Kind kind = s.norm().kind();
        boolean parallel = s.parallelResidual();
        boolean fromNorm = s.residualFromNorm() && !parallel;
        boolean gated = s.gatedMlp();
        boolean swiglu = gated && s.activation() == TransformerSpec.Activation.SILU;
        int[] positions = new int[n];
        for (int t = 0; t < n; t++) {
            positions[t] = t;
        }
        KvCache cache = KvCache.standalone(layers, kvDim, s.contextLength());
        KvCache[] caches = new KvCache[n];
        Arrays.fill(caches, cache);
        float[] slopesAll = s.alibiSlopes() == null ? null : GpuLlamaModel.alibiSlopes(s);

        Tensor pos = w.positionEmbedding();
        float[] x = pos == null
                ? CpuTwins.embedGather(w.tokenEmbedding().toFloatArray(), tokens, h)
                : CpuTwins.embedGather(w.tokenEmbedding().toFloatArray(), tokens, h, pos.toFloatArray(), positions);
        if (w.embeddingNormWeight() != null) {
            x = CpuTwins.addNorm(x, null, null, null, null, w.embeddingNormWeight(), w.embeddingNormBias(), h, eps,
                    TransformerSpec.NormSpec.Kind.LAYER, KernelModule.KEEP_X, false);
        }
        int seqMode = fromNorm ? KernelModule.X_GETS_NORM : KernelModule.X_GETS_SUM;
        float[] proj = null, mlpOut = null;
        float[] bOPrev = null, bDownPrev = null;
        for (int l = 0; l < layers; l++) {
            LayerWeights lw = w.layers()[l];
            float[] xn;
            if (l == 0) {
                xn = CpuTwins.addNorm(x, null, null, null, null, lw.norm1Weight(), lw.norm1Bias(), h, eps, kind,
                        fromNorm ? KernelModule.X_GETS_NORM : KernelModule.KEEP_X, false);
            } else if (parallel) {
                xn = CpuTwins.addNorm(x, proj, bOPrev, mlpOut, bDownPrev, lw.norm1Weight(), lw.norm1Bias(), h, eps, kind,
                        KernelModule.X_GETS_SUM, false);
            } else {
                xn = CpuTwins.addNorm(x, mlpOut, bDownPrev, null, null, lw.norm1Weight(), lw.norm1Bias(), h, eps, kind, seqMode, false);
            }
            float[] wQkv;
            float[] bQkv;
            if (lw.fused() != null) {
                int[] starts = GpuLlamaModel.qkvStarts(s, lw.fused());
                float[] stored = dense(lw.fused().w());
                wQkv = new float[width * h];
                for (int seg = 0; seg < starts.length; seg++) {
                    System.arraycopy(stored, starts[seg] * h, wQkv, seg * hd * h, hd * h);
                }
                bQkv = lw.fused().bias() == null ? null : GpuLlamaModel.qkvOrder(lw.fused().bias(), starts, hd);
            } else {
                wQkv = concat(dense(lw.wq()), dense(lw.wk()), dense(lw.wv()));
                bQkv = lw.bq() == null && lw.bk() == null && lw.bv() == null ? null
                        : concat(orZeros(lw.bq(), qDim), orZeros(lw.bk(), kvDim), orZeros(lw.bv(), kvDim));
            }
            float[] qkv = CpuTwins.gemm(wQkv, width, h, xn, n);
            CpuTwins.biasClipRopeQk(qkv, bQkv, s.clipQkv(), positions, s.rope(), s.heads(), s.kvHeads(), hd);
            CpuTwins.kvCacheWrite(qkv, caches, positions, l, qDim, kvDim);
            float[] slopes = slopesAll == null ? null : Arrays.copyOfRange(slopesAll, l * s.heads(), (l + 1) * s.heads());
            float[] att = CpuTwins.attention(qkv, caches, positions, l, s.heads(), s.kvHeads(), hd, s.attentionScale()[l],
                    s.slidingWindow(), slopes);
            proj = CpuTwins.gemm(dense(lw.wo()), h, qDim, att, n);
            if (!parallel) {
                xn = CpuTwins.addNorm(x, proj, lw.bo(), null, null, lw.norm2Weight(), lw.norm2Bias(), h, eps, kind, seqMode, false);
            } else if (lw.norm2Weight() != null) {
                xn = CpuTwins.addNorm(x, null, null, null, null, lw.norm2Weight(), lw.norm2Bias(), h, eps, kind, KernelModule.KEEP_X, false);
            }
            float[] wGu = gated ? concat(dense(lw.wGate()), dense(lw.wUp())) : dense(lw.wUp());
            float[] bGu = gated ? (lw.bGate() == null && lw.bUp() == null ? null : concat(orZeros(lw.bGate(), ffn), orZeros(lw.bUp(), ffn)))
                    : lw.bUp();
            float[] gu = CpuTwins.gemm(wGu, gated ? 2 * ffn : ffn, h, xn, n);
            float[] mlpA = swiglu ? CpuTwins.swiglu(gu, bGu, ffn) : CpuTwins.biasAct(gu, bGu, ffn, s.activation(), gated);
            mlpOut = CpuTwins.gemm(dense(lw.wDown()), h, ffn, mlpA, n);
            bOPrev = lw.bo();
            bDownPrev = lw.bDown();
        }
        float[] hOut = parallel
                ? CpuTwins.addNorm(x, proj, bOPrev, mlpOut, bDownPrev, w.finalNormWeight(), w.finalNormBias(), h, eps, kind, KernelModule.KEEP_X, false)
                : CpuTwins.addNorm(x, mlpOut, bDownPrev, null, null, w.finalNormWeight(), w.finalNormBias(), h, eps, kind, KernelModule.KEEP_X, false);
        float[] logits = CpuTwins.gemm(dense(w.lmHead()), vocab, h, hOut, n);
        return w.lmHeadBias() == null ? logits : CpuTwins.addBias(logits, w.lmHeadBias());
    }

    /** The matrix as [rows][cols] floats: input-major (Conv1D) storage through transpose_convert's twin. */
    static float[] dense(WeightMatrix m) {
        assumeTrue(m.dtype() == DType.F32, "the fixtures are float32");
        float[] raw = new float[m.rows() * m.cols()];
        for (int i = 0; i < raw.length; i++) {
            raw[i] = m.data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
        }
        return m.inputMajor() ? CpuTwins.transpose(raw, m.rows(), m.cols()) : raw;
    }

    static float[] concat(float[]... parts) {
        int n = 0;
        for (float[] p : parts) {
            n += p.length;
        }
        float[] out = new float[n];
        int o = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }

    static float[] orZeros(float[] v, int n) {
        return v == null ? new float[n] : v;
    }
}
