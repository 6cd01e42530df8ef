package dev.llmplatform.engine.tokenizer;

/** Thrown for bad tokenizer files, bad chat templates and bad token ids. */
public final class TokenizerException extends RuntimeException {

    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
