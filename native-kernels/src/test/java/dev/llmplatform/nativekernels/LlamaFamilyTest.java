package dev.llmplatform.nativekernels;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.llmplatform.engine.arch.Architectures;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.cpu.WorkerPool;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** CPU-only checks of what the GPU runner accepts, and of the bf16 rounding its twins use. */
class LlamaFamilyTest {

    static Path hfTiny(String arch) {
        Path p = Path.of(System.getProperty("shared.dir", "../../shared"), "fixtures", "hf-tiny", arch);
        assumeTrue(Files.isDirectory(p), "fixture " + p + " is missing");
        return p;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "mistral", "qwen2"})
    void shouldAcceptTheLlamaFamily(String arch) throws Exception {
        try (WorkerPool pool = new WorkerPool(1); DecoderModel m = Architectures.load(hfTiny(arch), pool)) {
            assertDoesNotThrow(() -> GpuLlamaModel.requireLlamaFamily(m.spec(), arch));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "gptj", "bloom", "mpt", "falcon"})
    void shouldRejectOtherFamiliesByName(String arch) throws Exception {
        try (WorkerPool pool = new WorkerPool(1); DecoderModel m = Architectures.load(hfTiny(arch), pool)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GpuLlamaModel.requireLlamaFamily(m.spec(), arch));
            assertTrue(e.getMessage().contains("Llama family"), e.getMessage());
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
