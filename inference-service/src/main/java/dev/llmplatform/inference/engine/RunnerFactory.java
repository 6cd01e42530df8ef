package dev.llmplatform.inference.engine;

import dev.llmplatform.engine.Engine;

/**
 * Makes the runner for a loaded engine ({@link ServedModel} calls it once the checkpoint is open). The service's own
 * is {@link BackendRunnerFactory}; a test may put another in the context to serve a runner of its own.
 */
public interface RunnerFactory {

    /**
     * The runner to serve {@code engine} with; an exception whose message says what is missing and what to set when
     * there is none (the load then fails with it, and readiness reports it).
     */
    ServingRunner create(Engine engine);
}
