package dev.llmplatform.inference.api;

import dev.llmplatform.engine.runtime.GenerationRequest;
import dev.llmplatform.engine.runtime.SamplingParams;
import dev.llmplatform.engine.tokenizer.ChatMessage;
import dev.llmplatform.inference.api.CompletionRequest.Endpoint;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import tools.jackson.core.JacksonException;
import tools.jackson.core.TokenStreamLocation;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.JsonNodeType;

/**
 * Reads the JSON of a completion request into a {@link CompletionRequest}, checking every parameter's type and
 * range, with OpenAI's defaults. Each failure is an {@link ApiException} (400) naming the parameter. Unknown fields
 * are ignored, as OpenAI-compatible servers do; fields whose features this server lacks (tools, structured output)
 * are refused rather than silently ignored.
 */
public final class RequestParser {
    private static final Set<String> CHAT_ROLES = Set.of("system", "developer", "user", "assistant");

    private final int maxChoices;

    public RequestParser(int maxChoices) {
        this.maxChoices = maxChoices;
    }

    /** Parses the body bytes into a JSON object. */
    public static JsonNode parseJson(byte[] body) {
        if (body == null || body.length == 0) {
            throw ApiException.unparsable("the body is empty; expected a JSON object");
        }
        JsonNode root;
        try {
            root = ApiJson.MAPPER.readTree(body);
        } catch (JacksonException e) {
            // The original message without the source excerpt: error texts must not quote the body (it holds prompts).
            TokenStreamLocation loc = e.getLocation();
            throw ApiException.unparsable(e.getOriginalMessage()
                    + (loc == null ? "" : " at line " + loc.getLineNr() + ", column " + loc.getColumnNr()));
        }
        if (root == null || !root.isObject()) {
            throw ApiException.unparsable("expected a JSON object, got " + (root == null ? "nothing" : describe(root)));
        }
        return root;
    }

    public CompletionRequest chat(JsonNode body) {
        String model = requiredString(body, "model");
        JsonNode messagesNode = body.get("messages");
        if (messagesNode == null || messagesNode.isNull()) {
            throw ApiException.missing("messages");
        }
        if (!messagesNode.isArray()) {
            throw ApiException.invalidType("messages", "an array", describe(messagesNode));
        }
        if (messagesNode.isEmpty()) {
            throw ApiException.invalid("messages", "'messages' must contain at least one message.");
        }
        List<ChatMessage> messages = new ArrayList<>(messagesNode.size());
        for (int i = 0; i < messagesNode.size(); i++) {
            messages.add(message(messagesNode.get(i), "messages[" + i + "]"));
        }
        boolean addGenerationPrompt = bool(body, "add_generation_prompt", true);
        refuseUnsupportedChatFields(body);
        boolean logprobs = bool(body, "logprobs", false);
        Integer top = optInt(body, "top_logprobs");
        if (top != null) {
            if (top < 0 || top > GenerationRequest.MAX_TOP_LOGPROBS) {
                throw ApiException.invalid("top_logprobs", "'top_logprobs' is " + top + ", expected 0.." + GenerationRequest.MAX_TOP_LOGPROBS + ".");
            }
            if (!logprobs) {
                throw ApiException.invalid("top_logprobs", "'top_logprobs' requires 'logprobs' to be true.");
            }
        }
        int topLogprobs = logprobs ? (top == null ? 0 : top) : -1;
        Integer maxTokens = optInt(body, "max_completion_tokens");
        String maxParam = "max_completion_tokens";
        if (maxTokens == null) {
            maxTokens = optInt(body, "max_tokens");
            maxParam = "max_tokens";
        }
        return common(body, Endpoint.CHAT, model, List.of(new CompletionRequest.ChatPrompt(messages, addGenerationPrompt)),
                maxTokens, maxParam, topLogprobs);
    }

    public CompletionRequest completion(JsonNode body) {
        String model = requiredString(body, "model");
        JsonNode p = body.get("prompt");
        if (p == null || p.isNull()) {
            throw ApiException.missing("prompt");
        }
        List<CompletionRequest.Prompt> prompts = prompts(p);
        if (bool(body, "echo", false)) {
            throw ApiException.invalid("echo", "'echo' is not supported by this server.");
        }
        JsonNode suffix = body.get("suffix");
        if (suffix != null && !suffix.isNull() && !(suffix.isString() && suffix.asString().isEmpty())) {
            throw ApiException.invalid("suffix", "'suffix' is not supported by this server.");
        }
        Integer bestOf = optInt(body, "best_of");
        Integer top = optInt(body, "logprobs");
        if (top != null && (top < 0 || top > GenerationRequest.MAX_TOP_LOGPROBS)) {
            throw ApiException.invalid("logprobs", "'logprobs' is " + top + ", expected 0.." + GenerationRequest.MAX_TOP_LOGPROBS + ".");
        }
        CompletionRequest r = common(body, Endpoint.COMPLETIONS, model, prompts, optInt(body, "max_tokens"), "max_tokens",
                top == null ? -1 : top);
        if (bestOf != null && bestOf != r.n()) {
            throw ApiException.invalid("best_of", "'best_of' other than 'n' is not supported by this server.");
        }
        return r;
    }

    private CompletionRequest common(JsonNode body, Endpoint endpoint, String model, List<CompletionRequest.Prompt> prompts,
                                     Integer maxTokens, String maxParam, int topLogprobs) {
        if (maxTokens != null && maxTokens < 1) {
            throw ApiException.invalid(maxParam, "'" + maxParam + "' is " + maxTokens + ", expected at least 1.");
        }
        int n = intOr(body, "n", 1);
        if (n < 1) {
            throw ApiException.invalid("n", "'n' is " + n + ", expected at least 1.");
        }
        if ((long) n * prompts.size() > maxChoices) {
            throw ApiException.invalid("n", "'n' is " + n + (prompts.size() > 1 ? " for " + prompts.size() + " prompts" : "")
                    + ", but this server returns at most " + maxChoices + " choices per request.");
        }
        boolean stream = bool(body, "stream", false);
        boolean includeUsage = false;
        JsonNode so = body.get("stream_options");
        if (so != null && !so.isNull()) {
            if (!stream) {
                throw ApiException.invalid("stream_options", "'stream_options' is only allowed when 'stream' is true.");
            }
            if (!so.isObject()) {
                throw ApiException.invalidType("stream_options", "an object", describe(so));
            }
            includeUsage = bool(so, "include_usage", false, "stream_options.include_usage");
        }
        optString(body, "user");
        SamplingParams sampling = sampling(body);
        return new CompletionRequest(endpoint, model, List.copyOf(prompts), n, maxTokens, sampling, stop(body),
                bool(body, "ignore_eos", false), topLogprobs, stream, includeUsage);
    }

    private static SamplingParams sampling(JsonNode body) {
        double temperature = number(body, "temperature", 1.0);
        double topP = number(body, "top_p", 1.0);
        int topK = intOr(body, "top_k", 0);
        double minP = number(body, "min_p", 0.0);
        double repetition = number(body, "repetition_penalty", 1.0);
        double presence = number(body, "presence_penalty", 0.0);
        double frequency = number(body, "frequency_penalty", 0.0);
        Long seed = null;
        JsonNode s = body.get("seed");
        if (s != null && !s.isNull()) {
            if (!s.isIntegralNumber() || !s.canConvertToLong()) {
                throw ApiException.invalidType("seed", "an integer", describe(s));
            }
            seed = s.asLong();
        }
        Map<Integer, Float> bias = logitBias(body);
        try {
            return new SamplingParams(temperature, topK, topP, minP, repetition, presence, frequency, seed, bias);
        } catch (IllegalArgumentException e) {
            // SamplingParams names the parameter first ("top_p is 1.5, expected in (0, 1]"), with the API's names.
            String message = e.getMessage();
            int space = message.indexOf(' ');
            String param = space > 0 ? message.substring(0, space) : null;
            throw ApiException.invalid(param, "Invalid '" + param + "': " + message + ".");
        }
    }

    private static Map<Integer, Float> logitBias(JsonNode body) {
        JsonNode b = body.get("logit_bias");
        if (b == null || b.isNull()) {
            return Map.of();
        }
        if (!b.isObject()) {
            throw ApiException.invalidType("logit_bias", "an object mapping token ids to numbers", describe(b));
        }
        Map<Integer, Float> bias = new HashMap<>();
        for (var e : b.properties()) {
            int id;
            try {
                id = Integer.parseInt(e.getKey().trim());
            } catch (NumberFormatException ex) {
                throw ApiException.invalid("logit_bias", "Invalid 'logit_bias': the key '" + truncate(e.getKey())
                        + "' is not a token id (an integer).");
            }
            JsonNode v = e.getValue();
            if (!v.isNumber()) {
                throw ApiException.invalidType("logit_bias." + id, "a number", describe(v));
            }
            bias.put(id, v.floatValue());
        }
        return bias;
    }

    private static List<String> stop(JsonNode body) {
        JsonNode s = body.get("stop");
        if (s == null || s.isNull()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        if (s.isString()) {
            out.add(s.asString());
        } else if (s.isArray()) {
            for (int i = 0; i < s.size(); i++) {
                JsonNode e = s.get(i);
                if (!e.isString()) {
                    throw ApiException.invalidType("stop[" + i + "]", "a string", describe(e));
                }
                out.add(e.asString());
            }
        } else {
            throw ApiException.invalidType("stop", "a string or an array of strings", describe(s));
        }
        for (String x : out) {
            if (x.isEmpty()) {
                throw ApiException.invalid("stop", "Invalid 'stop': stop sequences must not be empty.");
            }
        }
        return List.copyOf(out);
    }

    private static List<CompletionRequest.Prompt> prompts(JsonNode p) {
        if (p.isString()) {
            return List.of(new CompletionRequest.TextPrompt(p.asString()));
        }
        if (!p.isArray()) {
            throw ApiException.invalidType("prompt", "a string, an array of strings, an array of token ids or an array of arrays of token ids", describe(p));
        }
        if (p.isEmpty()) {
            throw ApiException.invalid("prompt", "'prompt' must not be an empty array.");
        }
        if (p.get(0).isNumber()) {
            return List.of(new CompletionRequest.TokenPrompt(ids(p, "prompt")));
        }
        List<CompletionRequest.Prompt> out = new ArrayList<>(p.size());
        for (int i = 0; i < p.size(); i++) {
            JsonNode e = p.get(i);
            if (e.isString()) {
                out.add(new CompletionRequest.TextPrompt(e.asString()));
            } else if (e.isArray()) {
                out.add(new CompletionRequest.TokenPrompt(ids(e, "prompt[" + i + "]")));
            } else {
                throw ApiException.invalidType("prompt[" + i + "]", "a string or an array of token ids", describe(e));
            }
        }
        return out;
    }

    private static int[] ids(JsonNode a, String param) {
        if (a.isEmpty()) {
            throw ApiException.invalid(param, "'" + param + "' must not be empty.");
        }
        int[] ids = new int[a.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode e = a.get(i);
            if (!e.isIntegralNumber() || !e.canConvertToInt() || e.asInt() < 0) {
                throw ApiException.invalidType(param + "[" + i + "]", "a token id (a non-negative integer)", describe(e));
            }
            ids[i] = e.asInt();
        }
        return ids;
    }

    private static ChatMessage message(JsonNode m, String param) {
        if (!m.isObject()) {
            throw ApiException.invalidType(param, "an object", describe(m));
        }
        JsonNode roleNode = m.get("role");
        if (roleNode == null || roleNode.isNull()) {
            throw ApiException.missing(param + ".role");
        }
        if (!roleNode.isString()) {
            throw ApiException.invalidType(param + ".role", "a string", describe(roleNode));
        }
        String role = roleNode.asString();
        if (!CHAT_ROLES.contains(role)) {
            throw ApiException.invalid(param + ".role", "Invalid '" + param + ".role': '" + truncate(role)
                    + "'. Supported values are: 'system', 'developer', 'user' and 'assistant'.");
        }
        if ("developer".equals(role)) {
            role = "system"; // OpenAI's newer name for system instructions; templates know "system"
        }
        JsonNode c = m.get("content");
        String content;
        if (c == null || c.isNull()) {
            if (!"assistant".equals(role)) {
                throw ApiException.missing(param + ".content");
            }
            if (m.has("tool_calls")) {
                throw ApiException.invalid(param + ".tool_calls", "Tool calls are not supported by this server.");
            }
            content = "";
        } else if (c.isString()) {
            content = c.asString();
        } else if (c.isArray()) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < c.size(); i++) {
                JsonNode part = c.get(i);
                String pp = param + ".content[" + i + "]";
                if (!part.isObject()) {
                    throw ApiException.invalidType(pp, "a content part object", describe(part));
                }
                String type = part.path("type").asString("");
                if (!"text".equals(type)) {
                    throw ApiException.invalid(pp + ".type", "Invalid '" + pp + ".type': '" + truncate(type)
                            + "'. This server supports only 'text' content parts.");
                }
                JsonNode text = part.get("text");
                if (text == null || !text.isString()) {
                    throw ApiException.invalidType(pp + ".text", "a string", text == null ? "nothing" : describe(text));
                }
                if (!sb.isEmpty()) {
                    sb.append('\n');
                }
                sb.append(text.asString());
            }
            content = sb.toString();
        } else {
            throw ApiException.invalidType(param + ".content", "a string or an array of content parts", describe(c));
        }
        return new ChatMessage(role, content);
    }

    private static void refuseUnsupportedChatFields(JsonNode body) {
        for (String f : List.of("tools", "functions")) {
            JsonNode t = body.get(f);
            if (t != null && !t.isNull() && !(t.isArray() && t.isEmpty())) {
                throw ApiException.invalid(f, "'" + f + "' (function calling) is not supported by this server.");
            }
        }
        JsonNode rf = body.get("response_format");
        if (rf != null && !rf.isNull()) {
            String type = rf.path("type").asString("");
            if (!"text".equals(type)) {
                throw ApiException.invalid("response_format", "'response_format' of type '" + truncate(type)
                        + "' is not supported by this server; only 'text' is.");
            }
        }
    }

    // ---- typed field access

    private static String requiredString(JsonNode body, String name) {
        JsonNode v = body.get(name);
        if (v == null || v.isNull()) {
            throw ApiException.missing(name);
        }
        if (!v.isString()) {
            throw ApiException.invalidType(name, "a string", describe(v));
        }
        return v.asString();
    }

    private static void optString(JsonNode body, String name) {
        JsonNode v = body.get(name);
        if (v != null && !v.isNull() && !v.isString()) {
            throw ApiException.invalidType(name, "a string", describe(v));
        }
    }

    private static boolean bool(JsonNode body, String name, boolean fallback) {
        return bool(body, name, fallback, name);
    }

    private static boolean bool(JsonNode body, String name, boolean fallback, String param) {
        JsonNode v = body.get(name);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isBoolean()) {
            throw ApiException.invalidType(param, "a boolean", describe(v));
        }
        return v.asBoolean();
    }

    private static double number(JsonNode body, String name, double fallback) {
        JsonNode v = body.get(name);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isNumber()) {
            throw ApiException.invalidType(name, "a number", describe(v));
        }
        return v.asDouble();
    }

    private static Integer optInt(JsonNode body, String name) {
        JsonNode v = body.get(name);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw ApiException.invalidType(name, "an integer", describe(v));
        }
        return v.asInt();
    }

    private static int intOr(JsonNode body, String name, int fallback) {
        Integer v = optInt(body, name);
        return v == null ? fallback : v;
    }

    /** How a JSON value is described in type errors (never its content, which may be a prompt). */
    static String describe(JsonNode v) {
        JsonNodeType t = v.getNodeType();
        return switch (t) {
            case STRING -> "a string";
            case NUMBER -> v.isIntegralNumber() ? (v.canConvertToInt() ? "an integer" : "an integer out of range") : "a decimal";
            case BOOLEAN -> "a boolean";
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case NULL -> "null";
            default -> t.name().toLowerCase(Locale.ROOT);
        };
    }

    private static String truncate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }
}
