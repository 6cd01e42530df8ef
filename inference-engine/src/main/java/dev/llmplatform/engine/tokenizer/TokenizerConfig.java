package dev.llmplatform.engine.tokenizer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.JsonNode;

/**
 * What this package uses from tokenizer_config.json: the special token strings (plain strings or
 * AddedToken objects with a "content" field) and the chat template (a string, or a list of
 * {name, template} of which "default" is taken).
 *
 * @param tokenStrings {@code bos_token}, {@code eos_token}, ... as the chat template sees them
 * @param chatTemplate the template source, or null
 */
record TokenizerConfig(Map<String, Object> tokenStrings, String chatTemplate) {

    static final TokenizerConfig EMPTY = new TokenizerConfig(Map.of(), null);

    private static final String[] TOKEN_KEYS = {
        "bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"
    };

    static TokenizerConfig parse(String json, String source) {
        JsonNode root = TokenizerJsonParser.readObject(json, source);
        Map<String, Object> tokens = new LinkedHashMap<>();
        for (String key : TOKEN_KEYS) {
            String value = tokenString(root.get(key), source, key);
            if (value != null) {
                tokens.put(key, value);
            }
        }
        JsonNode extra = root.get("additional_special_tokens");
        if (extra != null && extra.isArray()) {
            List<String> list = new ArrayList<>();
            for (JsonNode t : extra) {
                String value = tokenString(t, source, "additional_special_tokens");
                if (value != null) {
                    list.add(value);
                }
            }
            tokens.put("additional_special_tokens", list);
        }
        return new TokenizerConfig(tokens, chatTemplate(root.get("chat_template"), source));
    }

    String token(String key) {
        return tokenStrings.get(key) instanceof String s ? s : null;
    }

    TokenizerConfig withChatTemplate(String template) {
        return new TokenizerConfig(tokenStrings, template);
    }

    private static String tokenString(JsonNode node, String source, String key) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isString()) {
            return node.stringValue();
        }
        if (node.isObject() && node.has("content") && node.get("content").isString()) {
            return node.get("content").stringValue();
        }
        throw new TokenizerException(source + ": \"" + key + "\" must be a string or an object with a \"content\" string");
    }

    /** A string, or a list of {name, template}: "default" if present, else the first. */
    static String chatTemplate(JsonNode node, String source) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isString()) {
            return node.stringValue();
        }
        if (node.isArray()) {
            String first = null;
            for (JsonNode t : node) {
                if (!t.isObject() || !t.path("template").isString()) {
                    throw new TokenizerException(source + ": \"chat_template\" list entries must be {\"name\", \"template\"}");
                }
                String template = t.get("template").stringValue();
                if ("default".equals(t.path("name").asString(""))) {
                    return template;
                }
                if (first == null) {
                    first = template;
                }
            }
            return first;
        }
        throw new TokenizerException(source + ": \"chat_template\" must be a string or a list of {name, template}");
    }
}
