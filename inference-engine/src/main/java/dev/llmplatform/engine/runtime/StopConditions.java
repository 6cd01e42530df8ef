package dev.llmplatform.engine.runtime;

import java.util.List;
import java.util.Set;

/**
 * When a request stops generating.
 *
 * @param maxTokens    the most tokens to generate (also capped by the context length)
 * @param stopTokenIds ids that end the sequence (usually the model's EOS ids; empty to ignore EOS)
 * @param stopStrings  texts that end the sequence where they appear in the output, even across token boundaries;
 *                     the output stops before them (as OpenAI's {@code stop})
 */
public record StopConditions(int maxTokens, Set<Integer> stopTokenIds, List<String> stopStrings) {

    public StopConditions {
        if (maxTokens < 1) {
            throw new IllegalArgumentException("max_tokens is " + maxTokens + ", expected at least 1");
        }
        stopTokenIds = Set.copyOf(stopTokenIds);
        stopStrings = List.copyOf(stopStrings);
        for (String s : stopStrings) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("stop strings must not be empty");
            }
        }
    }

    public static StopConditions maxTokens(int maxTokens, Set<Integer> stopTokenIds) {
        return new StopConditions(maxTokens, stopTokenIds, List.of());
    }
}
