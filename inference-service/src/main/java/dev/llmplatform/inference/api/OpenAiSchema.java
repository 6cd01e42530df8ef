package dev.llmplatform.inference.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/**
 * The response bodies of the OpenAI API, as records. {@link ApiJson} writes them with snake_case names and without
 * null fields, except the fields OpenAI always sends (marked {@code ALWAYS}: {@code finish_reason}, {@code logprobs},
 * {@code content}, ...), which clients expect to see as {@code null}.
 */
public final class OpenAiSchema {
    private OpenAiSchema() {
    }

    public record ErrorBody(Error error) {
        @JsonInclude(JsonInclude.Include.ALWAYS)
        public record Error(String message, String type, String param, String code) {
        }
    }

    public record Usage(int promptTokens, int completionTokens, int totalTokens, PromptTokensDetails promptTokensDetails) {
        public static Usage of(int prompt, int completion, int cached) {
            return new Usage(prompt, completion, prompt + completion, new PromptTokensDetails(cached));
        }
    }

    public record PromptTokensDetails(int cachedTokens) {
    }

    // ---- /v1/chat/completions

    public record ChatCompletion(String id, String object, long created, String model, List<ChatChoice> choices,
                                 Usage usage) {
    }

    public record ChatChoice(int index, ChatMessage message,
                             @JsonInclude(JsonInclude.Include.ALWAYS) ChatLogprobs logprobs,
                             @JsonInclude(JsonInclude.Include.ALWAYS) String finishReason) {
    }

    public record ChatMessage(String role, @JsonInclude(JsonInclude.Include.ALWAYS) String content,
                              @JsonInclude(JsonInclude.Include.ALWAYS) String refusal) {
    }

    /**
     * A streamed chunk. {@code usage} is an Object so that it can be JSON null (a Jackson NullNode: sent, as OpenAI
     * does, on every chunk when {@code stream_options.include_usage} is on) or absent (Java null).
     */
    public record ChatCompletionChunk(String id, String object, long created, String model, List<ChunkChoice> choices,
                                      Object usage) {
    }

    public record ChunkChoice(int index, Delta delta,
                              @JsonInclude(JsonInclude.Include.ALWAYS) ChatLogprobs logprobs,
                              @JsonInclude(JsonInclude.Include.ALWAYS) String finishReason) {
    }

    /** What a chunk adds: the role on the first chunk of a choice, then content. Empty ({}) on the last. */
    public record Delta(String role, String content) {
    }

    public record ChatLogprobs(List<TokenLogprob> content, @JsonInclude(JsonInclude.Include.ALWAYS) Object refusal) {
    }

    public record TokenLogprob(String token, float logprob, int[] bytes, List<TopLogprob> topLogprobs) {
    }

    public record TopLogprob(String token, float logprob, int[] bytes) {
    }

    // ---- /v1/completions (streamed chunks have the same shape)

    public record Completion(String id, String object, long created, String model, List<CompletionChoice> choices,
                             Object usage) {
    }

    public record CompletionChoice(String text, int index,
                                   @JsonInclude(JsonInclude.Include.ALWAYS) CompletionLogprobs logprobs,
                                   @JsonInclude(JsonInclude.Include.ALWAYS) String finishReason) {
    }

    public record CompletionLogprobs(List<String> tokens, List<Float> tokenLogprobs,
                                     List<Map<String, Float>> topLogprobs, List<Integer> textOffset) {
    }

    // ---- /v1/models

    public record ModelList(String object, List<Model> data) {
    }

    /** {@code max_model_len} is vLLM's addition: the context length. */
    public record Model(String id, String object, long created, String ownedBy, Integer maxModelLen) {
    }
}
