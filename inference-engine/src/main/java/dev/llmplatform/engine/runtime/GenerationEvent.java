package dev.llmplatform.engine.runtime;

import java.util.List;

/** What a request's stream carries: tokens as they are generated, then exactly one {@link Finished}. */
public sealed interface GenerationEvent permits GenerationEvent.Token, GenerationEvent.Finished {

    /**
     * A generated token.
     *
     * @param text    the text that became final with this token (may be empty: an incomplete UTF-8 sequence, or text
     *                held back because it might begin a stop string)
     * @param logprob the token's log-probability and alternatives, or null when not requested
     */
    record Token(int tokenId, String text, Logprob logprob) implements GenerationEvent {
    }

    /**
     * The end of the stream.
     *
     * @param text              text released at the end (held back for a stop string that did not come), usually empty
     * @param promptTokens      tokens in the prompt
     * @param completionTokens  tokens generated (including a final stop token)
     * @param cachedPromptTokens prompt tokens served from the prefix cache
     * @param error             what went wrong, for {@link FinishReason#ERROR}; null otherwise
     */
    record Finished(FinishReason reason, String text, int promptTokens, int completionTokens, int cachedPromptTokens,
                    String error) implements GenerationEvent {
    }

    /** A token's natural-log probability under the model, with the most likely alternatives. */
    record Logprob(int tokenId, float logprob, List<TopLogprob> top) {
    }

    record TopLogprob(int tokenId, float logprob) {
    }
}
