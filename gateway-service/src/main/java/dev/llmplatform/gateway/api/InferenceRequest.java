package dev.llmplatform.gateway.api;

import tools.jackson.databind.JsonNode;

/**
 * What the gateway needs to know about a completion request, read once from its body: which model, whether it
 * streams, who the end user is, how large the prompt is and how it starts. The body itself is forwarded unchanged.
 *
 * @param model              the {@code model} field
 * @param stream             whether the answer is streamed (server-sent events)
 * @param user               the {@code user} field, or null
 * @param promptTokens       the prompt's size in tokens, estimated without a tokenizer: token ids count one each,
 *                           text a token per 4 characters (OpenAI's rule of thumb), plus 4 per chat message
 * @param leadingPrompt      the prompt's first characters (chat: the messages' contents in order), for prefix affinity
 * @param body               the request body as received
 */
public record InferenceRequest(String model, boolean stream, String user, long promptTokens, String leadingPrompt,
                               byte[] body) {

    /** Exchange attribute holding the parsed request. */
    public static final String ATTR = InferenceRequest.class.getName();

    /** Reads a parsed JSON body; refuses (400) what has no usable {@code model}. */
    public static InferenceRequest of(JsonNode root, byte[] body, int leadingChars) {
        if (root == null || !root.isObject()) {
            throw GatewayException.invalidRequest("invalid_json", null, "The request body must be a JSON object.");
        }
        JsonNode model = root.get("model");
        if (model == null || model.isNull()) {
            throw GatewayException.invalidRequest("missing_required_parameter", "model",
                    "Missing required parameter: 'model'.");
        }
        if (!model.isString() || model.asString().isBlank()) {
            throw GatewayException.invalidRequest("invalid_type", "model",
                    "Invalid type for 'model': expected a non-empty string.");
        }
        JsonNode stream = root.get("stream");
        JsonNode user = root.get("user");
        PromptSize size = new PromptSize(leadingChars);
        JsonNode messages = root.get("messages");
        if (messages != null && messages.isArray()) {
            for (JsonNode m : messages) {
                size.tokens += 4;
                JsonNode content = m.get("content");
                if (content != null && content.isArray()) {
                    for (JsonNode part : content) {
                        size.add(part.get("text"));
                    }
                } else {
                    size.add(content);
                }
            }
        }
        size.add(root.get("prompt"));
        return new InferenceRequest(model.asString(), stream != null && stream.asBoolean(false),
                user != null && user.isString() ? user.asString() : null, size.tokens, size.leading.toString(), body);
    }

    /** Accumulates the estimate and the leading text over a prompt's parts. */
    private static final class PromptSize {
        final StringBuilder leading = new StringBuilder();
        final int leadingChars;
        long tokens;

        PromptSize(int leadingChars) {
            this.leadingChars = leadingChars;
        }

        void add(JsonNode n) {
            if (n == null || n.isNull()) {
                return;
            }
            if (n.isString()) {
                String s = n.asString();
                tokens += (s.length() + 3) / 4;
                if (leading.length() < leadingChars) {
                    leading.append(s, 0, Math.min(s.length(), leadingChars - leading.length()));
                }
            } else if (n.isNumber()) {
                tokens += 1;
                if (leading.length() < leadingChars) {
                    leading.append(n.asLong()).append(',');
                }
            } else if (n.isArray()) {
                for (JsonNode e : n) {
                    add(e);
                }
            }
        }
    }
}
