package dev.llmplatform.engine.bench;

/**
 * Where a serving benchmark sends its requests: the engine runtime directly, or (in the services) an HTTP endpoint.
 * Callbacks may come from any thread.
 */
public interface ServingTarget extends AutoCloseable {

    /** Receives one request's progress. */
    interface Callbacks {
        /** A token arrived (its time is taken by the benchmark). */
        void onToken();

        void onDone(int completionTokens);

        void onError(String message);
    }

    void send(Workload.Spec request, Callbacks callbacks);

    @Override
    default void close() throws Exception {
    }
}
