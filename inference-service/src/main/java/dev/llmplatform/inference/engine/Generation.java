package dev.llmplatform.inference.engine;

import dev.llmplatform.engine.runtime.GenerationEvent;
import dev.llmplatform.engine.runtime.RequestHandle;
import java.util.List;
import reactor.core.publisher.Flux;

/**
 * One API request in the engine: a runtime request per choice, and their events merged into one stream. Cancelling
 * the stream (the client went away) cancels every choice in the engine; their KV blocks are free before the next
 * step.
 *
 * @param handles       the runtime's handles, by choice index
 * @param promptLengths tokens of each choice's prompt, by choice index
 * @param events        the choices' events, in the order the runtime emitted them; completes after the last choice's
 *                      {@link GenerationEvent.Finished}
 * @param startNanos    {@link System#nanoTime()} when the HTTP request arrived
 */
public record Generation(List<RequestHandle> handles, int[] promptLengths, Flux<ChoiceEvent> events, long startNanos) {

    /**
     * An event of one choice.
     *
     * @param index the choice's index in the response
     * @param nanos {@link System#nanoTime()} when the runtime emitted it
     */
    public record ChoiceEvent(int index, GenerationEvent event, long nanos) {
    }

    public int choices() {
        return handles.size();
    }

    /** Cancels every choice still running (idempotent). */
    public void cancel() {
        for (RequestHandle h : handles) {
            h.cancel();
        }
    }
}
