package dev.llmplatform.engine.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.Checkpoint;
import dev.llmplatform.engine.model.Tensor;
import dev.llmplatform.engine.model.TestCheckpoints;
import dev.llmplatform.engine.model.TestCheckpoints.HostTensor;
import dev.llmplatform.engine.testing.SharedFixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint split into shards with model.safetensors.index.json loads the very bytes of the single file, and
 * so the same model.
 */
class ShardedCheckpointTest {

    @Test
    void twoShardsGiveTheSingleFileLogitsExactly(@TempDir Path tmp) throws Exception {
        Path fixture = SharedFixtures.hfTiny("llama");
        Map<String, HostTensor> tensors = TestCheckpoints.readTensors(fixture.resolve("model.safetensors"));
        Path dir = tmp.resolve("llama-sharded");
        TestCheckpoints.copyConfigs(fixture, dir);
        TestCheckpoints.writeSharded(dir, tensors, 2);
        assertEquals(false, Files.exists(dir.resolve("model.safetensors")));

        try (Checkpoint sharded = Checkpoint.open(dir); Checkpoint single = Checkpoint.open(fixture)) {
            assertEquals(single.tensors().keySet(), sharded.tensors().keySet(), "every tensor of both shards is loaded");
            Set<String> files = new TreeSet<>();
            for (Tensor t : sharded.tensors().values()) {
                files.add(t.file().getFileName().toString());
                Tensor s = single.tensors().get(t.name());
                assertEquals(s.shapeString(), t.shapeString(), t.name());
                assertEquals(-1L, s.data().mismatch(t.data()), t.name() + " differs from the single file's bytes");
            }
            assertEquals(Set.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"), files);
        }
        int[] prompt = ModelRuns.referencePrompt(fixture);
        try (WorkerPool pool = new WorkerPool(2)) {
            float[] single = ModelRuns.promptLogits(fixture, pool, prompt);
            float[] sharded = ModelRuns.promptLogits(dir, pool, prompt);
            ModelRuns.assertClose("sharded vs single file", single, sharded, ModelRuns.SAME_MODEL);
        }
    }
}
