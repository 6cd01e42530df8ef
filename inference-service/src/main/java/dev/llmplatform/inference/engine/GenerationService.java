package dev.llmplatform.inference.engine;

import dev.llmplatform.engine.runtime.EngineRuntime;
import dev.llmplatform.engine.runtime.GenerationEvent;
import dev.llmplatform.engine.runtime.GenerationRequest;
import dev.llmplatform.engine.runtime.QueueFullException;
import dev.llmplatform.engine.runtime.RequestHandle;
import dev.llmplatform.engine.runtime.SamplingParams;
import dev.llmplatform.engine.runtime.StopConditions;
import dev.llmplatform.inference.api.ApiException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import reactor.core.publisher.Sinks;

/**
 * Submits a request's choices to the runtime. Submission happens before the response starts, so that a full queue
 * (429) or a request that can never run (400) is answered with a status, not inside a stream; if one choice is
 * refused, the ones already submitted are cancelled.
 *
 * <p>The runtime delivers events on its own thread, which also runs the forward passes: the listener only hands
 * each event to a sink and returns. Everything else (JSON, metrics, writes) happens downstream, on other threads.
 */
public final class GenerationService {

    /**
     * One choice to run.
     *
     * @param promptIds the prompt's tokens
     * @param maxTokens the completion's limit (already checked against the context)
     */
    public record Choice(int[] promptIds, int maxTokens) {
    }

    private GenerationService() {
    }

    /**
     * @param choices     one per choice, in response order
     * @param sampling    shared sampling parameters; with a seed, choice i of a prompt draws with seed + i
     * @param perPrompt   choices per prompt (n), for the seed offsets
     */
    public static Generation submit(EngineRuntime runtime, List<Choice> choices, int perPrompt, SamplingParams sampling,
                                    Set<Integer> stopIds, List<String> stopStrings, int topLogprobs, long startNanos) {
        Sinks.Many<Generation.ChoiceEvent> sink = Sinks.many().unicast().onBackpressureBuffer();
        int total = choices.size();
        int[] finished = {0}; // only touched on the runtime's thread
        List<RequestHandle> handles = new ArrayList<>(total);
        int[] promptLengths = new int[total];
        try {
            for (int i = 0; i < total; i++) {
                Choice c = choices.get(i);
                SamplingParams sp = sampling;
                int offset = i % perPrompt;
                if (offset > 0 && sampling.seed() != null) {
                    sp = sampling.withSeed(sampling.seed() + offset);
                }
                GenerationRequest request = new GenerationRequest(c.promptIds(), sp,
                        new StopConditions(c.maxTokens(), stopIds, stopStrings), topLogprobs, 0);
                final int index = i;
                promptLengths[i] = c.promptIds().length;
                handles.add(runtime.submit(request, event -> {
                    sink.tryEmitNext(new Generation.ChoiceEvent(index, event, System.nanoTime()));
                    if (event instanceof GenerationEvent.Finished && ++finished[0] == total) {
                        sink.tryEmitComplete();
                    }
                }));
            }
        } catch (QueueFullException e) {
            handles.forEach(RequestHandle::cancel);
            throw ApiException.queueFull("The server is at capacity: " + e.getMessage() + ".");
        } catch (IllegalArgumentException e) {
            handles.forEach(RequestHandle::cancel);
            throw ApiException.invalid(null, "The request cannot run on this server: " + e.getMessage() + ".");
        } catch (IllegalStateException e) {
            handles.forEach(RequestHandle::cancel);
            throw ApiException.notReady("The model is shutting down.");
        }
        List<RequestHandle> all = List.copyOf(handles);
        return new Generation(all, promptLengths, sink.asFlux().doOnCancel(() -> all.forEach(RequestHandle::cancel)),
                startNanos);
    }
}
