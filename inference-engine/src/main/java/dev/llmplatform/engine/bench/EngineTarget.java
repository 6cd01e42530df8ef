package dev.llmplatform.engine.bench;

import dev.llmplatform.engine.runtime.EngineRuntime;
import dev.llmplatform.engine.runtime.FinishReason;
import dev.llmplatform.engine.runtime.GenerationEvent;
import dev.llmplatform.engine.runtime.GenerationRequest;
import dev.llmplatform.engine.runtime.SamplingParams;
import dev.llmplatform.engine.runtime.StopConditions;
import java.util.Set;

/** Sends benchmark requests straight to an {@link EngineRuntime}: greedy, end-of-sequence ignored. */
public final class EngineTarget implements ServingTarget {
    private final EngineRuntime runtime;

    public EngineTarget(EngineRuntime runtime) {
        this.runtime = runtime;
    }

    @Override
    public void send(Workload.Spec request, Callbacks callbacks) {
        GenerationRequest r = GenerationRequest.of(request.promptIds(), SamplingParams.GREEDY,
                StopConditions.maxTokens(request.outputTokens(), Set.of()));
        try {
            runtime.submit(r, e -> {
                if (e instanceof GenerationEvent.Token) {
                    callbacks.onToken();
                } else if (e instanceof GenerationEvent.Finished f) {
                    if (f.reason() == FinishReason.ERROR) {
                        callbacks.onError(f.error());
                    } else {
                        callbacks.onDone(f.completionTokens());
                    }
                }
            });
        } catch (RuntimeException e) {
            callbacks.onError(e.getMessage());
        }
    }
}
