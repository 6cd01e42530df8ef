package dev.llmplatform.engine.runtime;

/** Submission refused because the waiting queue is full (back-pressure: the service answers 429). */
public final class QueueFullException extends RuntimeException {
    public QueueFullException(int limit) {
        super("the waiting queue is full (" + limit + " requests); try again later");
    }
}
