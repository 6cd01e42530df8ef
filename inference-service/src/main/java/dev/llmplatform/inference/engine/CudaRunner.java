package dev.llmplatform.inference.engine;

import dev.llmplatform.engine.Engine;
import dev.llmplatform.engine.arch.ModelRunner;
import dev.llmplatform.nativekernels.GpuLlamaModel;
import java.util.Set;

/**
 * The one-GPU runner for {@code llm.inference.backend=cuda} (native-kernels' {@link GpuLlamaModel}, built from the
 * engine's loaded CPU model, whose mapped weights it uploads), or an {@link IllegalStateException} saying why there
 * is none: an architecture the GPU backend does not run, an engine split for the CPU's ranks, or no usable CUDA
 * device or driver (which shows up as a missing native library or a CUDA error, whatever the machine lacks).
 */
final class CudaRunner {
    /** The families native-kernels runs on one GPU: every family the engine runs. */
    static final Set<String> SUPPORTED = Set.of("llama", "mistral", "qwen2", "gpt2", "gptj", "falcon", "mpt", "bloom");
    /** The families it splits over several GPUs (GpuTensorParallelModel: the Llama family). */
    static final Set<String> TENSOR_PARALLEL = Set.of("llama", "mistral", "qwen2");

    private CudaRunner() {
    }

    static ModelRunner create(Engine engine, String modelType) {
        return create(engine, modelType, dev.llmplatform.nativekernels.KernelModule.F32);
    }

    /** The same, keeping the KV cache as {@code kvType} (KernelModule.F32, BF16 or FP8_E4M3). */
    static ModelRunner create(Engine engine, String modelType, int kvType) {
        String refused = refusal(engine, modelType);
        if (refused != null) {
            throw new IllegalStateException("llm.inference.backend=cuda: " + refused);
        }
        try {
            return new GpuLlamaModel(engine.model(), GpuLlamaModel.Precision.AS_STORED).setKvCacheType(kvType);
        } catch (LinkageError | RuntimeException e) {
            throw new IllegalStateException("llm.inference.backend=cuda: no usable CUDA GPU on this machine ("
                    + describe(e) + "); the GPU backend needs an NVIDIA GPU and its driver (set "
                    + "llm.inference.backend=cpu to run on the CPU)", e);
        }
    }

    /**
     * Why the GPU backend cannot take this engine, whatever the GPUs: another architecture, or an engine built with
     * {@code --tp N} (its rank files are cut for the CPU's ranks; the GPU path cuts the whole model itself). Null
     * when it can.
     */
    static String refusal(Engine engine, String modelType) {
        if (!SUPPORTED.contains(modelType)) {
            return "the GPU backend runs " + String.join(", ", SUPPORTED.stream().sorted().toList())
                    + " checkpoints; model_type '" + modelType + "' runs on the CPU only (set llm.inference.backend=cpu)";
        }
        if (engine.tensorParallelSize() > 1) {
            return "the engine in " + engine.dir() + " was built with --tp " + engine.tensorParallelSize()
                    + " for the CPU's ranks; serve the checkpoint (or an engine built without --tp) on GPUs, with "
                    + "llm.inference.tensor-parallel-size=" + engine.tensorParallelSize() + " to split it over "
                    + engine.tensorParallelSize() + " GPUs";
        }
        return null;
    }

    /** Why the model cannot be split over GPUs, beyond {@link #refusal}: its family (the Llama family splits). */
    static String tensorParallelRefusal(Engine engine, String modelType) {
        String refused = refusal(engine, modelType);
        if (refused == null && !TENSOR_PARALLEL.contains(modelType)) {
            return "the GPU backend splits " + String.join(", ", TENSOR_PARALLEL.stream().sorted().toList())
                    + " checkpoints over several GPUs; model_type '" + modelType + "' runs on one GPU "
                    + "(llm.inference.tensor-parallel-size=1) or on the CPU";
        }
        return refused;
    }

    /** An exception as "Type: message", for load failures whose type says as much as the message. */
    static String describe(Throwable e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getClass().getSimpleName() + ": " + e.getMessage();
    }
}
