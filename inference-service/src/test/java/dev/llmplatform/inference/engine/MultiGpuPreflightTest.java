package dev.llmplatform.inference.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.llmplatform.engine.Engine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What serving over several GPUs refuses, on a machine without GPUs: each missing piece is named with what to set,
 * all at once, and nothing crashes the JVM (the CUDA bindings fail to load and are reported, not thrown).
 */
class MultiGpuPreflightTest {
    private static final Path SHARED = Path.of(System.getProperty("shared.dir", "../../shared"));
    private static final Path KJV = Path.of("../models/kjv-demo");
    private static final Map<String, String> NVLS_OFF = Map.of("NCCL_NVLS_ENABLE", "0");

    @Test
    void namesTheMissingEnvironmentVariableAndTheMissingGpus() throws Exception {
        assumeTrue(!Files.exists(Path.of("/dev/nvidia0")), "this machine has a GPU");
        try (Engine kjv = Engine.load(KJV, 1)) {
            List<String> problems = MultiGpuPreflight.problems(kjv, new int[] {0, 1}, name -> null);
            assertThat(problems).hasSize(2);
            assertThat(problems.get(0)).contains("NCCL_NVLS_ENABLE=0 is not set").contains("container's env");
            assertThat(problems.get(1)).contains("2 GPUs (devices [0, 1]) are needed, but CUDA finds none")
                    .contains("nvidia.com/gpu: 2").contains("llm.inference.backend=cpu");

            List<String> withNvlsOff = MultiGpuPreflight.problems(kjv, new int[] {0, 1}, NVLS_OFF::get);
            assertThat(withNvlsOff).singleElement().asString().contains("CUDA finds none");
        }
    }

    @Test
    void aSizeThatCutsHeadsIsTheEnginesShardPlanError() throws Exception {
        try (Engine kjv = Engine.load(KJV, 1)) {
            List<String> problems = MultiGpuPreflight.problems(kjv, new int[] {0, 1, 2}, NVLS_OFF::get);
            assertThat(problems.getFirst()).contains("tensor-parallel size 3 does not divide the 8 attention heads")
                    .contains("set llm.inference.tensor-parallel-size to a size that fits");
        }
    }

    @Test
    void anArchitectureOutsideTheLlamaFamilyIsNamed() throws Exception {
        try (Engine gpt2 = Engine.load(SHARED.resolve("fixtures/hf-tiny/gpt2"), 1)) {
            List<String> problems = MultiGpuPreflight.problems(gpt2, new int[] {0, 1}, NVLS_OFF::get);
            assertThat(problems.getFirst()).contains("model_type 'gpt2' runs on one GPU")
                    .contains("llama, mistral, qwen2");
        }
    }
}
