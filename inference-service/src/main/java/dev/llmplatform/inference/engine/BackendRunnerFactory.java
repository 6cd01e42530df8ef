package dev.llmplatform.inference.engine;

import dev.llmplatform.engine.Engine;
import dev.llmplatform.inference.config.InferenceProperties;
import dev.llmplatform.nativekernels.KernelModule;
import org.springframework.stereotype.Component;

/**
 * The runner {@code llm.inference.backend} and {@code tensor-parallel-size} ask for: the engine's own on the CPU
 * (split over rank threads when the size is above 1), the one-GPU runner ({@link CudaRunner}), or the model split
 * over one GPU per rank ({@link CudaTensorParallelRunner}).
 */
@Component
class BackendRunnerFactory implements RunnerFactory {
    private final InferenceProperties props;

    BackendRunnerFactory(InferenceProperties props) {
        this.props = props;
    }

    @Override
    public ServingRunner create(Engine engine) {
        if (props.backend() == InferenceProperties.Backend.CPU) {
            return ServingRunner.alwaysUsable(engine.runner());
        }
        int kvType = switch (props.kvCacheDtype()) {
            case FLOAT32 -> KernelModule.F32;
            case BFLOAT16 -> KernelModule.BF16;
            case FP8 -> KernelModule.FP8_E4M3;
        };
        if (props.tensorParallelSize() == 1) {
            return ServingRunner.alwaysUsable(CudaRunner.create(engine, engine.modelType(), kvType));
        }
        return CudaTensorParallelRunner.create(engine, props.rankDevices(), System::getenv, kvType);
    }
}
