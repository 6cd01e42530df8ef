package dev.llmplatform.inference.engine;

import dev.llmplatform.engine.Engine;
import dev.llmplatform.inference.config.InferenceProperties;
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
        if (props.tensorParallelSize() == 1) {
            return ServingRunner.alwaysUsable(CudaRunner.create(engine, engine.modelType()));
        }
        return CudaTensorParallelRunner.create(engine, props.rankDevices(), System::getenv);
    }
}
