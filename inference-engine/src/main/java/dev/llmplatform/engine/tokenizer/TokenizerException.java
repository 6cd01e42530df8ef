package dev.llmplatform.engine.tokenizer;

/** Thrown for bad tokenizer files, bad chat templates and bad token ids. */
public final class TokenizerException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
