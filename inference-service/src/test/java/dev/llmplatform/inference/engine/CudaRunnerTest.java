package dev.llmplatform.inference.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.llmplatform.engine.Engine;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** What the GPU backend refuses before it looks for a GPU: other architectures, and engines split for the CPU. */
class CudaRunnerTest {
    private static final Path HF_TINY = Path.of(System.getProperty("shared.dir", "../../shared")).resolve("fixtures/hf-tiny");

    @Test
    void anArchitectureTheGpuDoesNotRunIsNamed() throws Exception {
        try (Engine gpt2 = Engine.load(HF_TINY.resolve("gpt2"), 1)) {
            String m = assertThrows(IllegalStateException.class, () -> CudaRunner.create(gpt2, gpt2.modelType())).getMessage();
            assertThat(m).contains("model_type 'gpt2' runs on the CPU only").contains("llama, mistral, qwen2");
        }
    }

    @Test
    void anEngineSplitForTheCpuIsRefusedSayingHowToSplitOverGpus() throws Exception {
        try (Engine split = Engine.load(HF_TINY.resolve("llama"), 2, 2)) {
            String m = assertThrows(IllegalStateException.class, () -> CudaRunner.create(split, split.modelType())).getMessage();
            assertThat(m).contains("for the CPU's ranks").contains("llm.inference.tensor-parallel-size=2 to split it over 2 GPUs");
        }
    }
}
