package dev.llmplatform.inference.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.llmplatform.engine.Engine;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Primary;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A rank of a multi-GPU model failing mid-generation, played by the real kjv-demo on the CPU
 * ({@link RankFailingRunner}): the stream in flight ends with an OpenAI error event and {@code [DONE]}, health turns
 * DOWN with the rank's reason (readiness and liveness too, so that Kubernetes restarts the instance), and later
 * requests get 503 at once instead of running into steps that can only throw.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "llm.inference.threads=2", "llm.inference.kv-cache-size=32MB"})
class RankFailureTest {
    private static final String REASON = "rank 1 (device 1) failed: CUDA error 719 (unspecified launch failure); "
            + "the NCCL communicators were aborted";
    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** Serves the engine's CPU model through a runner the test can make fail. */
    static final class FailingRunners implements RunnerFactory {
        volatile RankFailingRunner runner;

        @Override
        public ServingRunner create(Engine engine) {
            RankFailingRunner r = new RankFailingRunner(engine.runner());
            runner = r;
            return new ServingRunner(r, r::unusableReason);
        }
    }

    @TestConfiguration
    static class Runners {
        @Bean
        @Primary
        FailingRunners failingRunners() {
            return new FailingRunners();
        }
    }

    @LocalServerPort
    int port;

    @Autowired
    ServedModel served;

    @Autowired
    FailingRunners runners;

    @Test
    void aFailedRankEndsTheStreamWithAnErrorThenTheInstanceIsDownAndRefusesAtOnce() throws Exception {
        assertTrue(served.awaitReady(2, TimeUnit.MINUTES), "the model did not load: " + served.failure());
        WebTestClient web = WebTestClient.bindToServer().baseUrl("http://localhost:" + port)
                .responseTimeout(Duration.ofMinutes(1)).build();
        web.get().uri("/actuator/health/readiness").exchange().expectStatus().isOk();

        // Prefill and one decode step run; the third step throws, as a step whose rank failed does.
        runners.runner.failAtStep(3, REASON);
        HttpResponse<String> stream = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://localhost:" + port + "/v1/completions"))
                .header("Content-Type", "application/json").timeout(Duration.ofMinutes(1))
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\": \"kjv-demo\", \"prompt\": \"In the beginning\", "
                        + "\"max_tokens\": 64, \"temperature\": 0, \"ignore_eos\": true, \"stream\": true}"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, stream.statusCode(), stream.body());
        List<String> events = stream.body().lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
        assertThat(events).hasSizeGreaterThanOrEqualTo(4);
        assertEquals("[DONE]", events.getLast(), stream.body());
        JsonNode error = JSON.readTree(events.get(events.size() - 2)).path("error");
        assertEquals("server_error", error.path("type").asString(), stream.body());
        assertThat(error.path("message").asString()).contains("the forward pass failed").contains(REASON);
        assertThat(events.subList(0, events.size() - 2)).as("the tokens of the steps before the failure")
                .allSatisfy(e -> assertThat(JSON.readTree(e).path("choices").path(0).has("text")).isTrue());

        assertEquals(ServedModel.State.BROKEN, served.state());
        web.get().uri("/actuator/health").exchange().expectStatus().isEqualTo(503)
                .expectBody().jsonPath("$.components.model.status").isEqualTo("DOWN")
                .jsonPath("$.components.model.details.state").isEqualTo("broken")
                .jsonPath("$.components.model.details.error").value(e -> assertThat((String) e)
                        .contains("the model can no longer run: " + REASON).contains("restart the instance"));
        web.get().uri("/actuator/health/readiness").exchange().expectStatus().isEqualTo(503);
        web.get().uri("/actuator/health/liveness").exchange().expectStatus().isEqualTo(503);

        long start = System.nanoTime();
        web.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\": \"kjv-demo\", \"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}], "
                        + "\"max_tokens\": 8, \"stream\": true}")
                .exchange().expectStatus().isEqualTo(503)
                .expectBody().jsonPath("$.error.type").isEqualTo("service_unavailable")
                .jsonPath("$.error.code").isEqualTo("model_not_ready")
                .jsonPath("$.error.message").value(m -> assertThat((String) m).contains(REASON));
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("refused at once").isLessThan(Duration.ofSeconds(5));
        web.get().uri("/actuator/prometheus").exchange().expectStatus().isOk().expectBody(String.class)
                .value(p -> assertThat(p).contains("llm_model_ready{model=\"kjv-demo\"} 0.0"));
    }
}
