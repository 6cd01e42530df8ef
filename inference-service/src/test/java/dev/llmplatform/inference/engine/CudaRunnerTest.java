package dev.llmplatform.inference.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.llmplatform.engine.Engine;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** What the GPU backend refuses before it looks for a GPU (engines split for the CPU), and what it does not. */
class CudaRunnerTest {
    private static final Path HF_TINY = Path.of(System.getProperty("shared.dir", "../../shared")).resolve("fixtures/hf-tiny");

    @Test
    void everyFamilyPassesTheArchitectureCheckSoWithoutAGpuOnlyTheGpuIsMissing() throws Exception {
        for (String family : new String[] {"gpt2", "gptj", "falcon", "mpt", "bloom", "llama"}) {
            try (Engine engine = Engine.load(HF_TINY.resolve(family), 1)) {
                assertThat(CudaRunner.refusal(engine, engine.modelType())).as(family).isNull();
            }
        }
        if (!dev.llmplatform.nativekernels.Cuda.available()) {
            try (Engine gpt2 = Engine.load(HF_TINY.resolve("gpt2"), 1)) {
                String m = assertThrows(IllegalStateException.class, () -> CudaRunner.create(gpt2, gpt2.modelType())).getMessage();
                assertThat(m).contains("no usable CUDA GPU on this machine");
            }
        }
    }

    @Test
    void onlyTheLlamaFamilySplitsOverGpus() throws Exception {
        try (Engine gpt2 = Engine.load(HF_TINY.resolve("gpt2"), 1)) {
            assertThat(CudaRunner.tensorParallelRefusal(gpt2, gpt2.modelType())).contains("model_type 'gpt2' runs on one GPU")
                    .contains("llama, mistral, qwen2");
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
