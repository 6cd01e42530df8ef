package dev.llmplatform.gateway.api;

import java.util.LinkedHashMap;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;

/** OpenAI's error object, {@code {"error": {"message", "type", "param", "code"}}}, as JSON bytes. */
public final class OpenAiError {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private OpenAiError() {
    }

    public static byte[] json(String message, String type, String code, String param) {
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("message", message);
        error.put("type", type);
        error.put("param", param);
        error.put("code", code);
        return JSON.writeValueAsBytes(Map.of("error", error));
    }

    /** The error as one server-sent event, as the inference service ends a failed stream, followed by {@code [DONE]}. */
    public static byte[] sseEvent(String message, String type, String code) {
        String event = "data: " + new String(json(message, type, code, null), java.nio.charset.StandardCharsets.UTF_8)
                + "\n\ndata: [DONE]\n\n";
        return event.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }
}
