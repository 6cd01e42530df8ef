package dev.llmplatform.engine.arch;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.ModelLoadException;
import dev.llmplatform.engine.model.TestCheckpoints;
import dev.llmplatform.engine.model.TestCheckpoints.HostTensor;
import dev.llmplatform.engine.testing.SharedFixtures;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.node.ObjectNode;

/**
 * Broken checkpoints and bad forward-pass input fail with the documented exception, and the message names the
 * file, tensor or value at fault and what was expected.
 */
class BadCheckpointTest {
    private static WorkerPool pool;
    private static final Path FIXTURE = SharedFixtures.hfTiny("llama");

    @TempDir
    Path tmp;

    @BeforeAll
    static void startPool() {
        pool = new WorkerPool(2);
    }

    @AfterAll
    static void stopPool() {
        pool.close();
    }

    /** A writable copy of the hf-tiny llama. */
    private Path llamaCopy() throws Exception {
        Path dir = tmp.resolve("llama");
        TestCheckpoints.copyConfigs(FIXTURE, dir);
        Files.copy(FIXTURE.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        return dir;
    }

    private static void editConfig(Path dir, java.util.function.Consumer<ObjectNode> edit) throws Exception {
        ObjectNode cfg = TestCheckpoints.readJsonObject(dir.resolve("config.json"));
        edit.accept(cfg);
        TestCheckpoints.writeJson(dir.resolve("config.json"), cfg);
    }

    private static <T extends Throwable> T assertFailsMentioning(Class<T> type, Executable action, String... parts) {
        T e = assertThrows(type, action);
        for (String p : parts) {
            assertTrue(e.getMessage() != null && e.getMessage().contains(p), "message lacks \"" + p + "\": " + e.getMessage());
        }
        return e;
    }

    private static Executable load(Path dir) {
        return () -> Architectures.load(dir, pool).close();
    }

    @Test
    void unknownModelType() throws Exception {
        Path dir = llamaCopy();
        editConfig(dir, c -> c.put("model_type", "llama9000"));
        assertFailsMentioning(ModelLoadException.class, load(dir),
                dir.resolve("config.json").toString(), "\"llama9000\"", "not supported", "llama", "gpt2");
    }

    @Test
    void missingConfig() throws Exception {
        Path dir = llamaCopy();
        Files.delete(dir.resolve("config.json"));
        assertFailsMentioning(ModelLoadException.class, load(dir), dir.resolve("config.json").toString(), "does not exist");
    }

    @Test
    void malformedConfig() throws Exception {
        Path dir = llamaCopy();
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"llama\", \"hidden_size\": 64,");
        assertFailsMentioning(ModelLoadException.class, load(dir), dir.resolve("config.json").toString(), "not valid JSON");
    }

    @Test
    void missingWeights() throws Exception {
        Path dir = llamaCopy();
        Files.delete(dir.resolve("model.safetensors"));
        assertFailsMentioning(ModelLoadException.class, load(dir), dir.toString(), "model.safetensors",
                "model.safetensors.index.json");
    }

    @Test
    void truncatedWeights() throws Exception {
        Path dir = llamaCopy();
        Path file = dir.resolve("model.safetensors");
        long size = Files.size(file) - 100;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
        assertFailsMentioning(ModelLoadException.class, load(dir), file.toString(), "truncated", "tensor ",
                "the file has " + size + " bytes");
    }

    @Test
    void headerLengthPastTheEndOfTheFile() throws Exception {
        Path dir = llamaCopy();
        Path file = dir.resolve("model.safetensors");
        long size = Files.size(file);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, size + 1000), 0);
        }
        assertFailsMentioning(ModelLoadException.class, load(dir), file.toString(), "header length " + (size + 1000),
                size + " bytes");
    }

    @Test
    void gitLfsPointerInsteadOfWeights() throws Exception {
        Path dir = llamaCopy();
        Path file = dir.resolve("model.safetensors");
        Files.writeString(file, "version https://git-lfs.github.com/spec/v1\noid sha256:"
                + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\nsize 503136\n");
        assertFailsMentioning(ModelLoadException.class, load(dir), file.toString(), "Git LFS pointer", "git lfs pull");
    }

    @Test
    void tensorShapeDisagreesWithConfig() throws Exception {
        Path dir = llamaCopy();
        editConfig(dir, c -> c.put("intermediate_size", 200));
        assertFailsMentioning(ModelLoadException.class, load(dir), "model.layers.0.mlp.gate_proj.weight", "model.safetensors",
                "[176, 64]", "config.json implies [200, 64]");
    }

    @Test
    void missingTensor() throws Exception {
        Map<String, HostTensor> tensors = TestCheckpoints.readTensors(FIXTURE.resolve("model.safetensors"));
        String gone = "model.layers.1.self_attn.v_proj.weight";
        tensors.remove(gone);
        Path dir = TestCheckpoints.writeCheckpoint(tmp.resolve("incomplete"), FIXTURE, tensors, dev.llmplatform.engine.model.DType.F32);
        assertFailsMentioning(ModelLoadException.class, load(dir), gone, "missing", dir.toString(), "[32, 64]");
    }

    @Test
    void indexNamesAMissingShard() throws Exception {
        Map<String, HostTensor> tensors = TestCheckpoints.readTensors(FIXTURE.resolve("model.safetensors"));
        Path dir = tmp.resolve("sharded");
        TestCheckpoints.copyConfigs(FIXTURE, dir);
        TestCheckpoints.writeSharded(dir, tensors, 2);
        Files.delete(dir.resolve("model-00002-of-00002.safetensors"));
        assertFailsMentioning(ModelLoadException.class, load(dir), "model-00002-of-00002.safetensors", "does not exist",
                "model.safetensors.index.json");
    }

    @Test
    void tokenOutsideTheVocabulary() throws Exception {
        try (DecoderModel model = Architectures.load(FIXTURE, pool)) {
            float[] logits = new float[model.vocabSize()];
            for (int bad : new int[] {256, -1}) {
                Batch batch = new Batch(2).add(5, 0, model.newCache(), false).add(bad, 1, model.newCache(), true);
                assertFailsMentioning(IllegalArgumentException.class, () -> model.forward(batch, logits),
                        "token id " + bad, "0..255");
            }
            assertStillWorks(model);
        }
    }

    @Test
    void positionPastTheContext() throws Exception {
        try (DecoderModel model = Architectures.load(FIXTURE, pool)) {
            float[] logits = new float[model.vocabSize()];
            KvCache cache = model.newCache();
            Batch batch = new Batch(1).add(5, model.contextLength(), cache, true);
            assertFailsMentioning(IllegalArgumentException.class, () -> model.forward(batch, logits),
                    "position 512", "512 tokens");
            Batch negative = new Batch(1).add(5, -1, cache, true);
            assertFailsMentioning(IllegalArgumentException.class, () -> model.forward(negative, logits), "position -1");
            assertStillWorks(model);
        }
    }

    /** A rejected batch must leave the model usable: the prompt still gives the logits of a fresh model. */
    private static void assertStillWorks(DecoderModel model) throws Exception {
        int[] prompt = ModelRuns.referencePrompt(FIXTURE);
        ModelRuns.assertClose("after the rejected batch", ModelRuns.promptLogits(FIXTURE, pool, prompt),
                ModelRuns.promptLogits(model, prompt), ModelRuns.SAME_MODEL);
    }
}
