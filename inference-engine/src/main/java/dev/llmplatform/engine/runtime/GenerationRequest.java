package dev.llmplatform.engine.runtime;

/**
 * One request to the runtime.
 *
 * @param promptIds   the prompt's token ids
 * @param sampling    how tokens are chosen
 * @param stop        when generation ends
 * @param topLogprobs -1 for no logprobs; 0 for the chosen token's logprob; 1..20 to add that many alternatives
 * @param priority    lower runs first and is preempted last (vLLM's convention); ties go by arrival
 */
public record GenerationRequest(int[] promptIds, SamplingParams sampling, StopConditions stop, int topLogprobs, int priority) {
    public static final int MAX_TOP_LOGPROBS = 20;

    public GenerationRequest {
        if (promptIds.length == 0) {
            throw new IllegalArgumentException("the prompt is empty: at least one token is needed");
        }
        if (topLogprobs < -1 || topLogprobs > MAX_TOP_LOGPROBS) {
            throw new IllegalArgumentException("top_logprobs is " + topLogprobs + ", expected 0.." + MAX_TOP_LOGPROBS);
        }
        promptIds = promptIds.clone();
    }

    public static GenerationRequest of(int[] promptIds, SamplingParams sampling, StopConditions stop) {
        return new GenerationRequest(promptIds, sampling, stop, -1, 0);
    }
}
