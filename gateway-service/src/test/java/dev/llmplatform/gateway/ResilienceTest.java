package dev.llmplatform.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.llmplatform.gateway.fleet.Fleet;
import dev.llmplatform.gateway.fleet.Instance;
import dev.llmplatform.testsupport.ServiceProcess;
import dev.llmplatform.gateway.support.TestFleet;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.core.Disposable;

/**
 * Two instances serving kjv-other, one of which (the spare) stops answering, then dies mid-stream. Health polls are
 * made rare here so that the gateway still believes in the failing instance and its own timeouts and retries are what
 * saves the requests. Round robin, so that the failing instance gets its turn.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ResilienceTest {
    static final Duration FIRST_BYTE_TIMEOUT = Duration.ofSeconds(2);

    @DynamicPropertySource
    static void fleet(DynamicPropertyRegistry r) {
        TestFleet f = TestFleet.get();
        String other = f.other.baseUrl().toString();
        String spare = f.spare.baseUrl().toString();
        r.add("llm.gateway.instances[0]", () -> other);
        r.add("llm.gateway.instances[1]", () -> spare);
        r.add("llm.gateway.health.interval", () -> "1h");
        r.add("llm.gateway.balancer.strategy", () -> "round-robin");
        r.add("llm.gateway.upstream.first-byte-timeout", () -> FIRST_BYTE_TIMEOUT.toMillis() + "ms");
        r.add("llm.gateway.circuit-breaker.minimum-calls", () -> "1000");
        r.add("llm.gateway.auth.required", () -> "false");
    }

    @LocalServerPort
    int port;

    @Autowired
    Fleet fleet;

    WebClient web;

    @BeforeEach
    void awaitFleet() {
        web = WebClient.create("http://127.0.0.1:" + port);
        if (TestFleet.get().spare.alive()) {
            // Polls are hourly here: poll by hand until both are in.
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                fleet.pollNow().block();
                return spare().healthy() && other().healthy();
            });
        }
    }

    Instance spare() {
        return byPort(TestFleet.get().spare);
    }

    Instance other() {
        return byPort(TestFleet.get().other);
    }

    Instance byPort(ServiceProcess p) {
        return fleet.all().stream().filter(i -> i.baseUrl().getPort() == p.port()).findFirst().orElseThrow();
    }

    Map<String, Object> complete() {
        return web.post().uri("/v1/completions").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("model", TestFleet.OTHER_MODEL, "prompt", "Blessed", "max_tokens", 2))
                .retrieve().bodyToMono(new ParameterizedTypeReference<Map<String, Object>>() { }).block(Duration.ofSeconds(30));
    }

    String prometheus() {
        return web.get().uri("/actuator/prometheus").retrieve().bodyToMono(String.class).block();
    }

    @Test
    @Order(1)
    void aStuckInstanceTimesOutAndTheRequestMovesToAnother() throws Exception {
        ServiceProcess spare = TestFleet.get().spare;
        spare.pause();
        try {
            long slowest = 0;
            for (int i = 0; i < 4; i++) {
                long start = System.nanoTime();
                assertThat(complete()).containsEntry("object", "text_completion");
                slowest = Math.max(slowest, System.nanoTime() - start);
            }
            assertThat(Duration.ofNanos(slowest)).isBetween(FIRST_BYTE_TIMEOUT, FIRST_BYTE_TIMEOUT.plusSeconds(10));
        } finally {
            spare.resume();
        }
        assertThat(prometheus()).containsPattern("llm_gateway_retries_total\\{instance=\"127.0.0.1:"
                + spare.port() + "\",reason=\"timeout\",route=\"completions\"} [1-9]");
    }

    @Test
    @Order(2)
    void anInstanceKilledMidStreamEndsTheStreamWithAnErrorEvent() throws Exception {
        ServiceProcess spare = TestFleet.get().spare;
        List<String> events = new CopyOnWriteArrayList<>();
        Disposable stream = null;
        // Round robin alternates: within two tries a stream lands on the spare.
        for (int attempt = 0; attempt < 2 && spare().inFlight() == 0; attempt++) {
            if (stream != null) {
                stream.dispose();
                await().atMost(Duration.ofSeconds(5)).until(() -> other().inFlight() == 0);
            }
            events.clear();
            stream = web.post().uri("/v1/completions").contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(Map.of("model", TestFleet.OTHER_MODEL, "prompt", "And it came to pass", "max_tokens", 900,
                            "ignore_eos", true, "stream", true))
                    .retrieve().bodyToFlux(String.class).subscribe(events::add, e -> events.add("client error: " + e));
            await().atMost(Duration.ofSeconds(20)).until(() -> events.size() >= 3);
        }
        assertThat(spare().inFlight()).isEqualTo(1);
        spare.kill();
        long killed = System.nanoTime();
        await().atMost(Duration.ofSeconds(10)).until(() -> events.contains("[DONE]") || events.stream()
                .anyMatch(e -> e.startsWith("client error")));
        System.out.printf("stream ended %d ms after the kill, %d events%n", (System.nanoTime() - killed) / 1_000_000,
                events.size());
        assertThat(events.getLast()).isEqualTo("[DONE]");
        assertThat(events.get(events.size() - 2)).contains("\"error\"").contains("upstream_stream_broken");
        assertThat(events.subList(0, events.size() - 2)).allSatisfy(e -> assertThat(e).contains("\"choices\""));
        await().atMost(Duration.ofSeconds(5)).until(() -> spare().inFlight() == 0);
        assertThat(prometheus()).containsPattern("llm_gateway_requests_seconds_count\\{instance=\"127.0.0.1:"
                + spare.port() + "\",model=\"kjv-other\",outcome=\"broken\",route=\"completions\"} 1");
    }

    @Test
    @Order(3)
    void requestsToADeadInstanceMoveOnUntilItLeavesRotation() {
        int port = TestFleet.get().spare.port();
        assertThat(spare().healthy()).as("no poll yet: the gateway still counts on it").isTrue();
        for (int i = 0; i < 4; i++) {
            assertThat(complete()).containsEntry("object", "text_completion");
        }
        assertThat(prometheus()).containsPattern("llm_gateway_retries_total\\{instance=\"127.0.0.1:" + port
                + "\",reason=\"unreachable\",route=\"completions\"} [1-9]");
        fleet.pollNow().block();
        fleet.pollNow().block();
        assertThat(spare().healthy()).isFalse();
        assertThat(complete()).containsEntry("object", "text_completion");
    }
}
