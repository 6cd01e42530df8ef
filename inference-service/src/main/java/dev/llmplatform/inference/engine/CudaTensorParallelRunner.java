package dev.llmplatform.inference.engine;

import dev.llmplatform.engine.Engine;
import dev.llmplatform.nativekernels.GpuLlamaModel;
import dev.llmplatform.nativekernels.GpuTensorParallelModel;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The runner for {@code llm.inference.backend=cuda} with a tensor-parallel size N above 1: native-kernels'
 * {@link GpuTensorParallelModel}, which cuts the engine's whole CPU model (loaded unsplit: the GPU path does its
 * own split) over N GPUs, one rank each, and sums the ranks' partial results with the one-shot peer all-reduce (NCCL
 * for large messages, or for everything where the GPUs cannot reach each other's memory). {@code load} returns only
 * once every rank has its weights on its device, so the warm-up that follows (and readiness after it) runs all of
 * them.
 *
 * <p>Refuses with an {@link IllegalStateException} naming everything {@link MultiGpuPreflight} finds missing, or
 * the load's own failure (a CUDA or NCCL error, device memory).
 */
final class CudaTensorParallelRunner {
    private static final Logger log = LoggerFactory.getLogger(CudaTensorParallelRunner.class);

    private CudaTensorParallelRunner() {
    }

    static ServingRunner create(Engine engine, int[] devices, UnaryOperator<String> env) {
        return create(engine, devices, env, dev.llmplatform.nativekernels.KernelModule.F32);
    }

    /** The same, keeping the KV cache as {@code kvType} (KernelModule.F32, BF16 or FP8_E4M3). */
    static ServingRunner create(Engine engine, int[] devices, UnaryOperator<String> env, int kvType) {
        String setting = "llm.inference.backend=cuda with tensor-parallel-size=" + devices.length + " (devices "
                + Arrays.toString(devices) + ")";
        List<String> problems = MultiGpuPreflight.problems(engine, devices, env);
        if (!problems.isEmpty()) {
            throw new IllegalStateException(setting + " cannot start: " + String.join("; ", problems));
        }
        GpuTensorParallelModel model;
        try {
            // The one-shot peer all-reduce where the GPUs reach each other's memory (NVLink), NCCL otherwise.
            model = GpuTensorParallelModel.load(engine.model(), devices, GpuLlamaModel.Precision.AS_STORED,
                    GpuTensorParallelModel.bestAllReduce(devices));
        } catch (LinkageError | RuntimeException e) {
            throw new IllegalStateException(setting + ": loading the ranks failed: " + CudaRunner.describe(e), e);
        }
        model.setKvCacheType(kvType);
        log.info("Model '{}' split over {} GPUs {} ({} MB of weights on the fullest), all-reduce: {}", model.name(),
                model.tensorParallelSize(), Arrays.toString(model.devices()), model.weightBytesPerRank() >> 20,
                model.allReduceDescription());
        return new ServingRunner(model, model::unusableReason);
    }
}
