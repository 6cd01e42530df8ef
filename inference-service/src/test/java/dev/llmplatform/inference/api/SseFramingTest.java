package dev.llmplatform.inference.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.llmplatform.inference.ServiceTestBase;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import tools.jackson.databind.JsonNode;

/** The raw wire format: SSE framing, error objects, statuses. */
class SseFramingTest extends ServiceTestBase {

    private String rawStream(String path, String body) {
        byte[] bytes = web.post().uri(path).contentType(MediaType.APPLICATION_JSON).bodyValue(body)
                .exchange()
                .expectStatus().isOk()
                .expectHeader().contentTypeCompatibleWith(MediaType.TEXT_EVENT_STREAM)
                .expectHeader().valueEquals("Cache-Control", "no-cache")
                .expectBody(byte[].class).returnResult().getResponseBody();
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** Splits an event stream into its events' data, checking that every event is exactly one "data: " line. */
    private static List<String> events(String raw) {
        assertTrue(raw.endsWith("\n\n"), "the stream ends with a complete event");
        List<String> data = new ArrayList<>();
        for (String event : raw.substring(0, raw.length() - 2).split("\n\n", -1)) {
            assertThat(event).startsWith("data: ").doesNotContain("\n");
            data.add(event.substring("data: ".length()));
        }
        return data;
    }

    @Test
    void aCompletionStreamIsOneDataLinePerChunkEndingWithDone() {
        List<String> data = events(rawStream("/v1/completions",
                "{\"model\":\"kjv-demo\",\"prompt\":\"In the beginning\",\"max_tokens\":6,\"temperature\":0,\"stream\":true}"));
        assertEquals("[DONE]", data.getLast());
        List<JsonNode> chunks = data.subList(0, data.size() - 1).stream().map(ApiJson.MAPPER::readTree).toList();
        assertThat(chunks).hasSizeBetween(2, 7);
        String id = chunks.getFirst().get("id").asString();
        for (JsonNode c : chunks) {
            assertEquals(id, c.get("id").asString());
            assertEquals("text_completion", c.get("object").asString());
            assertEquals("kjv-demo", c.get("model").asString());
            assertTrue(c.get("created").isIntegralNumber());
            assertThat(c.has("usage")).as("no usage unless asked for").isFalse();
            JsonNode choice = c.get("choices").get(0);
            assertEquals(0, choice.get("index").asInt());
            assertTrue(choice.has("finish_reason") && choice.has("logprobs"), "always sent, as null");
        }
        assertEquals("length", chunks.getLast().get("choices").get(0).get("finish_reason").asString());
        for (JsonNode c : chunks.subList(0, chunks.size() - 1)) {
            assertTrue(c.get("choices").get(0).get("finish_reason").isNull());
        }
    }

    @Test
    void includeUsageAddsAUsageChunkAndNullUsageElsewhere() {
        List<String> data = events(rawStream("/v1/chat/completions", """
                {"model":"kjv-demo","messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],
                 "max_tokens":5,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}"""));
        assertEquals("[DONE]", data.getLast());
        JsonNode usageChunk = ApiJson.MAPPER.readTree(data.get(data.size() - 2));
        assertEquals(0, usageChunk.get("choices").size());
        assertEquals(5, usageChunk.get("usage").get("completion_tokens").asInt());
        assertEquals(usageChunk.get("usage").get("prompt_tokens").asInt() + 5, usageChunk.get("usage").get("total_tokens").asInt());
        JsonNode first = ApiJson.MAPPER.readTree(data.getFirst());
        assertEquals("chat.completion.chunk", first.get("object").asString());
        assertEquals("assistant", first.get("choices").get(0).get("delta").get("role").asString());
        for (String d : data.subList(0, data.size() - 2)) {
            JsonNode c = ApiJson.MAPPER.readTree(d);
            assertTrue(c.has("usage") && c.get("usage").isNull(), "every other chunk carries usage: null");
        }
        JsonNode last = ApiJson.MAPPER.readTree(data.get(data.size() - 3));
        assertEquals("length", last.get("choices").get(0).get("finish_reason").asString());
    }

    @Test
    void errorsAreOpenAiErrorObjects() {
        expectError("/v1/chat/completions", "{\"model\":\"kjv-demo\",", HttpStatus.BAD_REQUEST, null, "invalid_json");
        expectError("/v1/chat/completions", "", HttpStatus.BAD_REQUEST, null, "invalid_json");
        expectError("/v1/chat/completions", "[1,2]", HttpStatus.BAD_REQUEST, null, "invalid_json");
        expectError("/v1/chat/completions", "{\"model\":\"kjv-demo\"}", HttpStatus.BAD_REQUEST, "messages", "missing_required_parameter");
        expectError("/v1/chat/completions", "{\"model\":\"kjv-demo\",\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}",
                HttpStatus.BAD_REQUEST, "messages[0].role", "invalid_value");
        expectError("/v1/chat/completions", "{\"model\":\"kjv-demo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream_options\":{\"include_usage\":true}}",
                HttpStatus.BAD_REQUEST, "stream_options", "invalid_value");
        expectError("/v1/chat/completions", "{\"model\":\"kjv-demo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_logprobs\":2}",
                HttpStatus.BAD_REQUEST, "top_logprobs", "invalid_value");
        expectError("/v1/chat/completions", "{\"model\":\"kjv-demo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{}]}",
                HttpStatus.BAD_REQUEST, "tools", "invalid_value");
        expectError("/v1/completions", "{\"model\":\"kjv-demo\",\"prompt\":[1,2,99999]}", HttpStatus.BAD_REQUEST, "prompt", "invalid_value");
        expectError("/v1/completions", "{\"model\":\"kjv-demo\",\"prompt\":\"x\",\"max_tokens\":0}", HttpStatus.BAD_REQUEST, "max_tokens", "invalid_value");
        expectError("/v1/completions", "{\"model\":\"kjv-demo\",\"prompt\":\"x\",\"stop\":[1]}", HttpStatus.BAD_REQUEST, "stop[0]", "invalid_type");
        expectError("/v1/completions", "{\"model\":\"kjv-demo\",\"prompt\":\"x\",\"n\":1000}", HttpStatus.BAD_REQUEST, "n", "invalid_value");
        expectError("/v1/completions", "{\"model\":\"kjv-demo\",\"prompt\":\"x\",\"temperature\":-1}", HttpStatus.BAD_REQUEST, "temperature", "invalid_value");
        expectError("/v1/completions", "{\"model\":\"kjv-demo\",\"prompt\":\"x\",\"logit_bias\":{\"5\":101}}", HttpStatus.BAD_REQUEST, "logit_bias", "invalid_value");
        expectError("/v1/completions", "{\"model\":\"other\",\"prompt\":\"x\"}", HttpStatus.NOT_FOUND, "model", "model_not_found");
        expectError("/v1/completions", "{\"model\":\"kjv-demo\",\"prompt\":\"x\",\"max_tokens\":2000}", HttpStatus.BAD_REQUEST, "prompt", "context_length_exceeded");
        web.get().uri("/v1/nothing-here").exchange().expectStatus().isNotFound()
                .expectBody().jsonPath("$.error.code").isEqualTo("unknown_url");
        web.get().uri("/v1/chat/completions").exchange().expectStatus().isEqualTo(HttpStatus.METHOD_NOT_ALLOWED)
                .expectBody().jsonPath("$.error.type").isEqualTo("invalid_request_error");
    }

    @Test
    void errorMessagesNeverQuoteThePrompt() {
        String secret = "the-secret-prompt-text";
        byte[] body = web.post().uri("/v1/completions").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"kjv-demo\",\"prompt\":\"" + secret + "\",\"max_tokens\":\"" + secret + "\"}")
                .exchange().expectStatus().isBadRequest().expectBody(byte[].class).returnResult().getResponseBody();
        assertThat(new String(body, StandardCharsets.UTF_8)).doesNotContain(secret).contains("max_tokens");
        body = web.post().uri("/v1/completions").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"kjv-demo\",\"prompt\":\"" + secret + "\" oops}")
                .exchange().expectStatus().isBadRequest().expectBody(byte[].class).returnResult().getResponseBody();
        assertThat(new String(body, StandardCharsets.UTF_8)).doesNotContain(secret);
    }

    private void expectError(String path, String body, HttpStatus status, String param, String code) {
        var spec = web.post().uri(path).contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange()
                .expectStatus().isEqualTo(status)
                .expectHeader().contentTypeCompatibleWith(MediaType.APPLICATION_JSON)
                .expectBody()
                .jsonPath("$.error.message").isNotEmpty()
                .jsonPath("$.error.type").isNotEmpty()
                .jsonPath("$.error.code").isEqualTo(code);
        if (param == null) {
            spec.jsonPath("$.error.param").doesNotExist();
        } else {
            spec.jsonPath("$.error.param").isEqualTo(param);
        }
    }
}
