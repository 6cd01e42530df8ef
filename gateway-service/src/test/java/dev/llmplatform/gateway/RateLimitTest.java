package dev.llmplatform.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.llmplatform.gateway.fleet.Fleet;
import dev.llmplatform.gateway.support.Keys;
import dev.llmplatform.gateway.support.TestFleet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.http.HttpHeaders;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * Per-key limits counted in a real Redis (127.0.0.1:6379) and shared by two gateway replicas: requests per minute,
 * and tokens per minute with the generated tokens counted as they stream.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class RateLimitTest {
    static final String REQUESTS_KEY = "sk-three-a-minute";
    static final String TOKENS_KEY = "sk-forty-tokens-a-minute";
    static final String PREFIX = "llm-gateway-test-" + UUID.randomUUID() + ":";
    static final List<ConfigurableApplicationContext> replicas = new ArrayList<>();

    static List<String> properties() {
        return List.of(
                "llm.gateway.instances[0]=" + TestFleet.get().other.baseUrl(),
                "llm.gateway.health.interval=500ms",
                "llm.gateway.rate-limit.store=redis",
                "llm.gateway.rate-limit.key-prefix=" + PREFIX,
                "llm.gateway.auth.keys[0].name=three-a-minute",
                "llm.gateway.auth.keys[0].sha256=" + Keys.sha256(REQUESTS_KEY),
                "llm.gateway.auth.keys[0].requests-per-minute=3",
                "llm.gateway.auth.keys[1].name=forty-tokens",
                "llm.gateway.auth.keys[1].sha256=" + Keys.sha256(TOKENS_KEY),
                "llm.gateway.auth.keys[1].tokens-per-minute=40");
    }

    @DynamicPropertySource
    static void config(DynamicPropertyRegistry r) {
        for (String p : properties()) {
            int eq = p.indexOf('=');
            r.add(p.substring(0, eq), () -> p.substring(eq + 1));
        }
    }

    @LocalServerPort
    int port;

    @Autowired
    Fleet fleet;

    @Autowired
    ReactiveStringRedisTemplate redis;

    @BeforeEach
    void awaitFleetAndAFreshMinute() throws InterruptedException {
        await().atMost(Duration.ofSeconds(30)).until(() -> fleet.models().contains(TestFleet.OTHER_MODEL));
        // The limits hold per clock minute: do not let a test straddle two.
        long second = (System.currentTimeMillis() / 1000) % 60;
        if (second > 45) {
            Thread.sleep((61 - second) * 1000);
        }
    }

    @AfterAll
    static void stopReplicas() {
        replicas.forEach(ConfigurableApplicationContext::close);
    }

    static WebTestClient client(int port, String key) {
        return WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port)
                .defaultHeader(HttpHeaders.AUTHORIZATION, "Bearer " + key)
                .responseTimeout(Duration.ofSeconds(30)).build();
    }

    static Map<String, Object> completion(int maxTokens, boolean stream) {
        return Map.of("model", TestFleet.OTHER_MODEL, "prompt", "Blessed are", "max_tokens", maxTokens,
                "ignore_eos", true, "stream", stream);
    }

    @Test
    void requestsPerMinuteHoldAcrossReplicas() {
        var replica = new SpringApplicationBuilder(GatewayApplication.class).run(
                properties().stream().map(p -> "--" + p).toList().toArray(new String[0]));
        replicas.add(replica);
        int replicaPort = Integer.parseInt(replica.getEnvironment().getProperty("local.server.port"));
        await().atMost(Duration.ofSeconds(30)).until(() -> replica.getBean(Fleet.class).models()
                .contains(TestFleet.OTHER_MODEL));

        client(port, REQUESTS_KEY).post().uri("/v1/completions").bodyValue(completion(1, false)).exchange()
                .expectStatus().isOk();
        client(replicaPort, REQUESTS_KEY).post().uri("/v1/completions").bodyValue(completion(1, false)).exchange()
                .expectStatus().isOk();
        client(port, REQUESTS_KEY).post().uri("/v1/completions").bodyValue(completion(1, false)).exchange()
                .expectStatus().isOk();
        for (int p : new int[] {replicaPort, port}) {
            client(p, REQUESTS_KEY).post().uri("/v1/completions").bodyValue(completion(1, false)).exchange()
                    .expectStatus().isEqualTo(429)
                    .expectHeader().value("Retry-After", v -> assertThat(Integer.parseInt(v)).isBetween(1, 60))
                    .expectBody()
                    .jsonPath("$.error.type").isEqualTo("rate_limit_error")
                    .jsonPath("$.error.code").isEqualTo("rate_limit_exceeded");
        }
        String counter = PREFIX + "{three-a-minute}:" + (System.currentTimeMillis() / 60_000) + ":requests";
        assertThat(redis.opsForValue().get(counter).block()).isEqualTo("3");
        String prometheus = client(port, REQUESTS_KEY).get().uri("/actuator/prometheus").exchange()
                .expectBody(String.class).returnResult().getResponseBody();
        assertThat(prometheus).containsPattern(
                "llm_gateway_rate_limited_total\\{key=\"three-a-minute\",limit=\"requests_per_minute\"} [1-9]");
    }

    @Test
    void generatedTokensCountAsTheyStream() {
        // The prompt is a few tokens: admitted. Its 60 generated tokens, counted while they stream, use up the 40.
        List<String> events = client(port, TOKENS_KEY).post().uri("/v1/completions").bodyValue(completion(60, true))
                .exchange().expectStatus().isOk()
                .returnResult(String.class).getResponseBody().collectList().block(Duration.ofSeconds(30));
        assertThat(events).last().isEqualTo("[DONE]");
        String counter = PREFIX + "{forty-tokens}:" + (System.currentTimeMillis() / 60_000) + ":tokens";
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(Long.parseLong(redis.opsForValue().get(counter).block())).isGreaterThanOrEqualTo(60));
        client(port, TOKENS_KEY).post().uri("/v1/completions").bodyValue(completion(1, false)).exchange()
                .expectStatus().isEqualTo(429)
                .expectBody().jsonPath("$.error.message").value(m -> assertThat((String) m).contains("tokens_per_minute"));
    }
}
