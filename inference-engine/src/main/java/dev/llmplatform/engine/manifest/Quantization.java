package dev.llmplatform.engine.manifest;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * How an engine's numbers were reduced: the method ({@code none}, {@code int8}, {@code awq}, {@code gptq},
 * {@code fp8}, ...), bits per quantized value, the group size (values sharing one scale; null when per-tensor or
 * per-channel), and which of weights, activations and the KV cache are quantized.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Quantization(@JsonProperty("method") String method,
                           @JsonProperty("bits") Integer bits,
                           @JsonProperty("group_size") Integer groupSize,
                           @JsonProperty("weights") boolean weights,
                           @JsonProperty("activations") boolean activations,
                           @JsonProperty("kv_cache") boolean kvCache) {

    /** The checkpoint's own precision, nothing quantized. */
    public static final Quantization NONE = new Quantization("none", null, null, false, false, false);

    @JsonIgnore // a derived view, not a manifest field
    public boolean isNone() {
        return "none".equals(method);
    }
}
