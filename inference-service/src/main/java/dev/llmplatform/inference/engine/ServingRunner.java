package dev.llmplatform.inference.engine;

import dev.llmplatform.engine.arch.ModelRunner;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The runner that computes the served model, and how to ask whether it can still compute. A multi-GPU runner whose
 * NCCL group was aborted after a rank failed can never run another step (only a restart reloads it); the service
 * then reports itself down and refuses requests at once instead of sending them into steps that throw.
 *
 * @param runner        what the runtime calls
 * @param unusableReason why the runner cannot run again, or empty while it can
 */
public record ServingRunner(ModelRunner runner, Supplier<Optional<String>> unusableReason) {

    /** A runner that can always run its next step (the CPU engine, the one-GPU runner). */
    public static ServingRunner alwaysUsable(ModelRunner runner) {
        return new ServingRunner(runner, Optional::empty);
    }
}
