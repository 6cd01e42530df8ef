package dev.llmplatform.engine.model;

/** A checkpoint that cannot be loaded; the message names the file, tensor or key and what was expected. */
public class ModelLoadException extends RuntimeException {
    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
