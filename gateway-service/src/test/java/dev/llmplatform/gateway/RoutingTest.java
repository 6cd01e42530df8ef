package dev.llmplatform.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import dev.llmplatform.gateway.fleet.Fleet;
import dev.llmplatform.gateway.support.Keys;
import dev.llmplatform.gateway.support.TestFleet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Assertions;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * The gateway in front of three real inference instances (two serving kjv-demo, one kjv-other): routing by the body's
 * model, the merged model list, every refusal in OpenAI's error format, the OpenAI SDK streaming through it, its
 * metrics and health, and an instance leaving rotation and coming back.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RoutingTest {
    static final String KEY = "sk-routing-test";

    @DynamicPropertySource
    static void fleet(DynamicPropertyRegistry r) {
        TestFleet f = TestFleet.get();
        for (int i = 0; i < f.instances().size(); i++) {
            String url = f.instances().get(i).toString();
            r.add("llm.gateway.instances[" + i + "]", () -> url);
        }
        r.add("llm.gateway.health.interval", () -> "300ms");
        r.add("llm.gateway.health.timeout", () -> "2s");
        r.add("llm.gateway.max-request-size", () -> "64KB");
        r.add("llm.gateway.auth.keys[0].name", () -> "routing-test");
        r.add("llm.gateway.auth.keys[0].sha256", () -> Keys.sha256(KEY));
    }

    @LocalServerPort
    int port;

    @Autowired
    Fleet fleet;

    WebTestClient web;

    @BeforeEach
    void awaitFleet() {
        await().atMost(Duration.ofSeconds(30)).until(() -> fleet.models().containsAll(
                List.of(TestFleet.MODEL, TestFleet.OTHER_MODEL)));
        web = WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port)
                .defaultHeader(HttpHeaders.AUTHORIZATION, "Bearer " + KEY)
                .responseTimeout(Duration.ofMinutes(1)).build();
    }

    static Map<String, Object> chat(String model, int maxTokens) {
        return Map.of("model", model, "max_tokens", maxTokens, "temperature", 0,
                "messages", List.of(Map.of("role", "user", "content", "In the beginning")));
    }

    @Test
    void listsWhatTheFleetServes() {
        web.get().uri("/v1/models").exchange().expectStatus().isOk()
                .expectBody()
                .jsonPath("$.object").isEqualTo("list")
                .jsonPath("$.data[*].id").isEqualTo(List.of(TestFleet.MODEL, TestFleet.OTHER_MODEL));
        web.get().uri("/v1/models/" + TestFleet.OTHER_MODEL).exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.id").isEqualTo(TestFleet.OTHER_MODEL);
    }

    @Test
    void routesByTheModelInTheBody() throws Exception {
        TestFleet f = TestFleet.get();
        double otherBefore = f.other.metric("llm_requests_total", null);
        double demoBefore = f.v1.metric("llm_requests_total", null) + f.v2.metric("llm_requests_total", null);
        for (int i = 0; i < 3; i++) {
            web.post().uri("/v1/chat/completions").bodyValue(chat(TestFleet.OTHER_MODEL, 4)).exchange()
                    .expectStatus().isOk().expectBody().jsonPath("$.model").isEqualTo(TestFleet.OTHER_MODEL);
        }
        web.post().uri("/v1/completions")
                .bodyValue(Map.of("model", TestFleet.MODEL, "prompt", "And God said", "max_tokens", 4))
                .exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.model").isEqualTo(TestFleet.MODEL)
                .jsonPath("$.usage.completion_tokens").isEqualTo(4);
        assertThat(f.other.metric("llm_requests_total", null) - otherBefore).isEqualTo(3);
        assertThat(f.v1.metric("llm_requests_total", null) + f.v2.metric("llm_requests_total", null) - demoBefore)
                .isEqualTo(1);
    }

    @Test
    void refusesInOpenAiErrorFormat() {
        web.post().uri("/v1/chat/completions").bodyValue(chat("gpt-17", 4)).exchange()
                .expectStatus().isNotFound().expectBody()
                .jsonPath("$.error.code").isEqualTo("model_not_found")
                .jsonPath("$.error.param").isEqualTo("model")
                .jsonPath("$.error.type").isEqualTo("invalid_request_error");
        web.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON).bodyValue("{\"model\": ")
                .exchange().expectStatus().isBadRequest().expectBody().jsonPath("$.error.code").isEqualTo("invalid_json");
        web.post().uri("/v1/completions").bodyValue(Map.of("prompt", "x")).exchange()
                .expectStatus().isBadRequest().expectBody()
                .jsonPath("$.error.code").isEqualTo("missing_required_parameter")
                .jsonPath("$.error.param").isEqualTo("model");
        web.post().uri("/v1/completions").bodyValue(Map.of("model", TestFleet.MODEL, "prompt", "x".repeat(70_000)))
                .exchange().expectStatus().isEqualTo(413).expectBody()
                .jsonPath("$.error.code").isEqualTo("request_too_large");
        web.post().uri("/v1/completions").header(HttpHeaders.AUTHORIZATION, "Bearer sk-wrong")
                .bodyValue(Map.of("model", TestFleet.MODEL, "prompt", "x")).exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.error.code").isEqualTo("invalid_api_key");
        WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port).build()
                .get().uri("/v1/models").exchange()
                .expectStatus().isUnauthorized().expectBody().jsonPath("$.error.code").isEqualTo("invalid_api_key");
        web.post().uri("/v1/embeddings").bodyValue(Map.of("model", TestFleet.MODEL)).exchange()
                .expectStatus().isNotFound().expectBody().jsonPath("$.error.code").isEqualTo("unknown_url");
        // The instance's own refusals pass through unchanged.
        web.post().uri("/v1/completions").bodyValue(Map.of("model", TestFleet.MODEL, "prompt", "x", "top_p", 2))
                .exchange().expectStatus().isBadRequest().expectBody().jsonPath("$.error.param").isEqualTo("top_p");
    }

    @Test
    void theOpenAiSdkStreamsThroughTheGateway() {
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + port + "/v1").apiKey(KEY)
                .maxRetries(0).timeout(Duration.ofMinutes(1)).build();
        ChatCompletionCreateParams params = ChatCompletionCreateParams.builder().model(TestFleet.MODEL)
                .addUserMessage("Who made the heaven and the earth?").maxCompletionTokens(12).temperature(0.0)
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(params)) {
            stream.stream().forEach(chunks::add);
        }
        StringBuilder text = new StringBuilder();
        chunks.forEach(c -> c.choices().forEach(ch -> ch.delta().content().ifPresent(text::append)));
        assertThat(text.toString()).isNotBlank();
        assertThat(chunks.getLast().usage()).isPresent();
        assertThat(chunks.getLast().usage().get().completionTokens()).isEqualTo(12);
        assertThat(client.models().list().data()).extracting(m -> m.id())
                .containsExactly(TestFleet.MODEL, TestFleet.OTHER_MODEL);

        OpenAIClient wrongKey = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + port + "/v1")
                .apiKey("sk-nope").maxRetries(0).build();
        Assertions.assertThrows(UnauthorizedException.class, () -> wrongKey.chat().completions().create(params));
    }

    @Test
    void exportsPerRouteAndInstanceMetricsAndFleetHealth() {
        web.post().uri("/v1/chat/completions").bodyValue(chat(TestFleet.OTHER_MODEL, 2)).exchange()
                .expectStatus().isOk();
        web.post().uri("/v1/chat/completions").bodyValue(chat("no-such-model", 2)).exchange()
                .expectStatus().isNotFound();
        String instance = "127.0.0.1:" + TestFleet.get().other.port();
        String prometheus = web.get().uri("/actuator/prometheus").exchange().expectStatus().isOk()
                .expectBody(String.class).returnResult().getResponseBody();
        assertThat(prometheus)
                .containsPattern("llm_gateway_requests_seconds_count\\{instance=\"" + instance
                        + "\",model=\"kjv-other\",outcome=\"ok\",route=\"chat_completions\"} [1-9]")
                .containsPattern("llm_gateway_time_to_first_byte_seconds_count\\{instance=\"" + instance
                        + "\",route=\"chat_completions\"} [1-9]")
                .containsPattern("llm_gateway_rejected_total\\{code=\"model_not_found\"} [1-9]")
                .contains("llm_gateway_instance_up{instance=\"" + instance + "\"} 1.0")
                .containsPattern("resilience4j_circuitbreaker_state\\{[^}]*name=\"" + instance + "\",state=\"closed\"} 1.0");
        web.get().uri("/actuator/health").exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.components.fleet.details.instances['" + instance + "'].model").isEqualTo("kjv-other")
                .jsonPath("$.components.fleet.details.instances['" + instance + "'].inRotation").isEqualTo(true)
                .jsonPath("$.components.fleet.details.instances['127.0.0.1:" + TestFleet.get().v2.port()
                        + "'].registryVersion").isEqualTo(2);
    }

    @Test
    @Order(Integer.MAX_VALUE)
    void anInstanceThatStopsAnsweringLeavesRotationAndComesBack() throws Exception {
        TestFleet f = TestFleet.get();
        f.other.pause();
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> !fleet.models().contains(TestFleet.OTHER_MODEL));
            web.post().uri("/v1/chat/completions").bodyValue(chat(TestFleet.OTHER_MODEL, 2)).exchange()
                    .expectStatus().isEqualTo(503)
                    .expectHeader().valueEquals("Retry-After", "1")
                    .expectBody().jsonPath("$.error.code").isEqualTo("no_healthy_instance");
        } finally {
            f.other.resume();
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> fleet.models().contains(TestFleet.OTHER_MODEL));
        web.post().uri("/v1/chat/completions").bodyValue(chat(TestFleet.OTHER_MODEL, 2)).exchange()
                .expectStatus().isOk();
    }
}
