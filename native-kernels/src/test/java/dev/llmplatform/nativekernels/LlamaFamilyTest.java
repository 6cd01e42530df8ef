package dev.llmplatform.nativekernels;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.llmplatform.engine.arch.Architectures;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.arch.LayerWeights;
import dev.llmplatform.engine.arch.ModelWeights;
import dev.llmplatform.engine.arch.TransformerSpec;
import dev.llmplatform.engine.cpu.WeightMatrix;
import dev.llmplatform.engine.cpu.WorkerPool;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * CPU-only checks of what the GPU runner accepts: every family on one GPU ({@link GpuLlamaModel#requireSupported}),
 * the Llama family only for tensor parallelism ({@link GpuLlamaModel#requireLlamaFamily}); the ALiBi slopes it
 * uploads; and the bf16 rounding its twins use.
 */
class LlamaFamilyTest {

    static Path hfTiny(String arch) {
        Path p = Path.of(System.getProperty("shared.dir", "../../shared"), "fixtures", "hf-tiny", arch);
        assumeTrue(Files.isDirectory(p), "fixture " + p + " is missing");
        return p;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "mistral", "qwen2", "gpt2", "gptj", "falcon", "mpt", "bloom"})
    void shouldAcceptEveryFamilyOnOneGpu(String arch) throws Exception {
        try (WorkerPool pool = new WorkerPool(1); DecoderModel m = Architectures.load(hfTiny(arch), pool)) {
            assertDoesNotThrow(() -> GpuLlamaModel.requireSupported(m.spec(), m.weights(), arch));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "mistral", "qwen2"})
    void shouldAcceptTheLlamaFamilyForTensorParallelism(String arch) throws Exception {
        try (WorkerPool pool = new WorkerPool(1); DecoderModel m = Architectures.load(hfTiny(arch), pool)) {
            assertDoesNotThrow(() -> GpuLlamaModel.requireLlamaFamily(m.spec(), arch));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "gptj", "bloom", "mpt", "falcon"})
    void shouldKeepOtherFamiliesOffTensorParallelism(String arch) throws Exception {
        try (WorkerPool pool = new WorkerPool(1); DecoderModel m = Architectures.load(hfTiny(arch), pool)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GpuLlamaModel.requireLlamaFamily(m.spec(), arch));
            assertTrue(e.getMessage().contains("Llama family"), e.getMessage());
        }
    }

    @Test
    void shouldRefuseHeadDimsOver256() throws Exception {
        try (WorkerPool pool = new WorkerPool(1); DecoderModel m = Architectures.load(hfTiny("gpt2"), pool)) {
            TransformerSpec s = m.spec();
            TransformerSpec wide = new TransformerSpec(s.hidden(), s.layers(), s.heads(), s.kvHeads(), 512, s.ffn(), s.vocab(),
                    s.contextLength(), s.norm(), s.rope(), s.alibiSlopes(), s.alibiScaledWithScores(), s.attentionScale(),
                    s.slidingWindow(), s.clipQkv(), s.parallelResidual(), s.residualFromNorm(), s.gatedMlp(), s.activation());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> GpuLlamaModel.requireSupported(wide, m.weights(), "wide"));
            assertTrue(e.getMessage().contains("head_dim 512"), e.getMessage());
        }
    }

    @Test
    void shouldRefuseQuantizedWeights() throws Exception {
        try (WorkerPool pool = new WorkerPool(1); DecoderModel m = Architectures.load(hfTiny("llama"), pool);
             Arena arena = Arena.ofConfined()) {
            ModelWeights w = m.weights();
            LayerWeights l = w.layers()[0];
            WeightMatrix q = l.wq();
            WeightMatrix int8 = WeightMatrix.int8(q.name(), arena.allocate((long) q.rows() * q.cols()), arena.allocate(4L * q.rows()),
                    q.rows(), q.cols());
            LayerWeights[] layers = w.layers().clone();
            layers[0] = new LayerWeights(l.norm1Weight(), l.norm1Bias(), l.norm2Weight(), l.norm2Bias(), int8, l.bq(), l.wk(), l.bk(),
                    l.wv(), l.bv(), l.fused(), l.wo(), l.bo(), l.wGate(), l.bGate(), l.wUp(), l.bUp(), l.wDown(), l.bDown());
            ModelWeights quantized = new ModelWeights(w.tokenEmbedding(), w.positionEmbedding(), w.embeddingNormWeight(),
                    w.embeddingNormBias(), layers, w.finalNormWeight(), w.finalNormBias(), w.lmHead(), w.lmHeadBias());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> GpuLlamaModel.requireSupported(m.spec(), quantized, "int8"));
            assertTrue(e.getMessage().contains("I8 with scales"), e.getMessage());
        }
    }

    @Test
    void shouldUploadTheEnginesAlibiSlopes() throws Exception {
        try (WorkerPool pool = new WorkerPool(1); DecoderModel m = Architectures.load(hfTiny("bloom"), pool)) {
            TransformerSpec s = m.spec();
            float[] all = GpuLlamaModel.alibiSlopes(s);
            for (int l = 0; l < s.layers(); l++) {
                // BLOOM adds the bias after scaling: the slopes as they are, every layer.
                assertArrayEquals(s.alibiSlopes(), java.util.Arrays.copyOfRange(all, l * s.heads(), (l + 1) * s.heads()));
            }
            // Falcon with alibi adds it before scaling: each layer's slopes times that layer's scale, as DecoderModel does.
            TransformerSpec falconLike = new TransformerSpec(s.hidden(), 2, 2, 2, s.headDim(), s.ffn(), s.vocab(),
                    s.contextLength(), s.norm(), null, new float[] {0.5f, 0.25f}, true, new float[] {0.25f, 0.125f}, 0, 0f,
                    true, false, false, s.activation());
            assertArrayEquals(new float[] {0.125f, 0.0625f, 0.0625f, 0.03125f}, GpuLlamaModel.alibiSlopes(falconLike));
        }
    }

    @Test
    void shouldRoundOnlyTheKeysAndValuesForABf16Cache() {
        int qDim = 4, kvDim = 2, width = qDim + 2 * kvDim;
        float[] qkv = new float[2 * width];
        for (int i = 0; i < qkv.length; i++) {
            qkv[i] = 1.0f + i * 0x1p-12f;
        }
        float[] r = CpuTwins.roundKv(qkv, qDim, kvDim);
        for (int i = 0; i < qkv.length; i++) {
            assertEquals(i % width < qDim ? qkv[i] : CpuTwins.roundBf16(qkv[i]), r[i], "element " + i);
        }
        assertTrue(r[qDim + 1] != qkv[qDim + 1], "a key element that bf16 cannot hold was rounded");
    }

    @Test
    void shouldRoundToBf16NearestEven() {
        assertEquals(1.0f, CpuTwins.roundBf16(1.0f + 0x1p-9f));          // below half: down
        assertEquals(1.0f + 0x1p-7f, CpuTwins.roundBf16(1.0f + 0x1p-7f + 0x1p-9f + 0x1p-12f)); // above half: up
        assertEquals(1.0f, CpuTwins.roundBf16(1.0f + 0x1p-8f));          // tie to even (down)
        assertEquals(1.0f + 0x1p-6f, CpuTwins.roundBf16(1.0f + 0x1p-7f + 0x1p-8f)); // tie to even (up)
    }
}
