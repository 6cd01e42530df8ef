package dev.llmplatform.engine.runtime;

/** Why a sequence stopped, with the names the OpenAI API uses. */
public enum FinishReason {
    /** An end-of-sequence token or a stop string. */
    STOP,
    /** The token limit or the context length. */
    LENGTH,
    CANCELLED,
    ERROR;

    public String apiName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
