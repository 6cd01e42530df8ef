package dev.llmplatform.inference.engine;

import dev.llmplatform.engine.Engine;
import dev.llmplatform.engine.arch.ModelRunner;
import dev.llmplatform.nativekernels.GpuLlamaModel;
import java.util.Set;

/**
 * The GPU runner for {@code llm.inference.backend=cuda} (native-kernels' {@link GpuLlamaModel}, built from the
 * engine's loaded CPU model, whose mapped weights it uploads), or an {@link IllegalStateException} saying why there
 * is none: an architecture the GPU backend does not run, a split model, or no usable CUDA device or driver (which
 * shows up as a missing native library or a CUDA error, whatever the machine lacks).
 */
final class CudaRunner {
    /** The families native-kernels runs. */
    static final Set<String> SUPPORTED = Set.of("llama", "mistral", "qwen2");

    private CudaRunner() {
    }

    static ModelRunner create(Engine engine, String modelType) {
        if (!SUPPORTED.contains(modelType)) {
            throw new IllegalStateException("llm.inference.backend=cuda: the GPU backend runs " + String.join(", ",
                    SUPPORTED.stream().sorted().toList()) + " checkpoints; model_type '" + modelType
                    + "' runs on the CPU only (set llm.inference.backend=cpu)");
        }
        if (engine.tensorParallelSize() > 1) {
            throw new IllegalStateException("llm.inference.backend=cuda runs on one GPU: tensor-parallel size "
                    + engine.tensorParallelSize() + " needs the multi-GPU backend, which does not exist yet (set "
                    + "llm.inference.tensor-parallel-size=1, or llm.inference.backend=cpu)");
        }
        try {
            return new GpuLlamaModel(engine.model(), GpuLlamaModel.Precision.AS_STORED);
        } catch (LinkageError | RuntimeException e) {
            String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getClass().getSimpleName() + ": " + e.getMessage();
            throw new IllegalStateException("llm.inference.backend=cuda: no usable CUDA GPU on this machine (" + why
                    + "); the GPU backend needs an NVIDIA GPU and its driver (set llm.inference.backend=cpu to run "
                    + "on the CPU)", e);
        }
    }
}
