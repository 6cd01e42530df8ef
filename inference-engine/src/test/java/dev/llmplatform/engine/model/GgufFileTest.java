package dev.llmplatform.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.llmplatform.engine.testing.SharedFixtures;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The GGUF reader: metadata and tensor infos as llama.cpp writes them, and clear refusals of broken files. */
class GgufFileTest {
    private static final Path Q4 = SharedFixtures.root().resolve("fixtures/gguf/kjv-demo-Q4_0.gguf");

    @Test
    void readsMetadataAndTensorInfos() {
        try (Arena arena = Arena.ofConfined()) {
            GgufFile f = GgufFile.open(Q4, arena);
            assertEquals("llama", f.string("general.architecture"));
            assertEquals(6, f.longOr(0, "llama.block_count"));
            assertEquals(1e-5, f.doubleOr(0, "llama.attention.layer_norm_rms_epsilon"), 1e-9);
            assertEquals(4096, ((List<?>) f.metadata().get("tokenizer.ggml.tokens")).size());
            assertEquals(56, f.tensorInfos().size());
            GgufFile.TensorInfo down = f.tensorInfos().get("blk.0.ffn_down.weight");
            assertTrue(Arrays.equals(new long[] {320, 864}, down.shape()), "row-major shape, outermost first");
            assertEquals("Q4_0", down.typeName());
            assertEquals(DType.Q8_0, f.tensor("token_embd.weight", "e").dtype());
        }
    }

    @Test
    void refusesTruncatedAndForeignFiles(@TempDir Path tmp) throws Exception {
        byte[] all = Files.readAllBytes(Q4);
        Path cut = Files.write(tmp.resolve("cut.gguf"), Arrays.copyOf(all, 4000));
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> Checkpoint.open(cut));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        Path body = Files.write(tmp.resolve("body.gguf"), Arrays.copyOf(all, all.length - 1000));
        e = assertThrows(ModelLoadException.class, () -> Checkpoint.open(body));
        assertTrue(e.getMessage().contains("runs past the end") && e.getMessage().contains("output_norm.weight"), e.getMessage());
        Path foreign = Files.write(tmp.resolve("x.gguf"), new byte[64]);
        e = assertThrows(ModelLoadException.class, () -> Checkpoint.open(foreign));
        assertTrue(e.getMessage().contains("not a GGUF file"), e.getMessage());
    }
}
