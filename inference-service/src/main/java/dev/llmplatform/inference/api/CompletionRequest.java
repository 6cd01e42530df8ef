package dev.llmplatform.inference.api;

import dev.llmplatform.engine.runtime.SamplingParams;
import dev.llmplatform.engine.tokenizer.ChatMessage;
import java.util.List;

/**
 * A parsed and validated {@code /v1/chat/completions} or {@code /v1/completions} request, before tokenization.
 *
 * @param endpoint      which API it came through
 * @param model         the requested model name
 * @param prompts       one conversation (chat), or one or more prompts (completions)
 * @param n             choices per prompt
 * @param maxTokens     the completion's token limit, or null for the configured default (the rest of the context)
 * @param sampling      sampling parameters; with {@code n > 1} and a seed, choice i uses seed + i
 * @param stop          stop strings
 * @param ignoreEos     keep generating past end-of-sequence tokens (vLLM's {@code ignore_eos})
 * @param topLogprobs   -1 for no logprobs, else the number of alternatives per token (0..20)
 * @param stream        answer with Server-Sent Events
 * @param includeUsage  {@code stream_options.include_usage}: a last chunk with usage
 */
public record CompletionRequest(Endpoint endpoint, String model, List<Prompt> prompts, int n, Integer maxTokens,
                                SamplingParams sampling, List<String> stop, boolean ignoreEos, int topLogprobs,
                                boolean stream, boolean includeUsage) {

    public enum Endpoint {
        CHAT("chat_completions", "messages"),
        COMPLETIONS("completions", "prompt");

        private final String metricTag;
        private final String promptParam;

        Endpoint(String metricTag, String promptParam) {
            this.metricTag = metricTag;
            this.promptParam = promptParam;
        }

        public String metricTag() {
            return metricTag;
        }

        /** The parameter that holds the prompt, for error messages. */
        public String promptParam() {
            return promptParam;
        }
    }

    /** A prompt as the client gave it. */
    public sealed interface Prompt {
    }

    public record TextPrompt(String text) implements Prompt {
    }

    public record TokenPrompt(int[] ids) implements Prompt {
    }

    public record ChatPrompt(List<ChatMessage> messages, boolean addGenerationPrompt) implements Prompt {
    }
}
