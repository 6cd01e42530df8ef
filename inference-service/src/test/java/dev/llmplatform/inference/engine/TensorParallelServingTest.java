package dev.llmplatform.inference.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.llmplatform.engine.Engine;
import dev.llmplatform.engine.runtime.EngineRuntime;
import dev.llmplatform.engine.runtime.GenerationEvent;
import dev.llmplatform.engine.runtime.GenerationRequest;
import dev.llmplatform.engine.runtime.RuntimeConfig;
import dev.llmplatform.engine.runtime.SamplingParams;
import dev.llmplatform.engine.runtime.StopConditions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code llm.inference.tensor-parallel-size=2}: the service serves kjv-demo split over two CPU ranks, and its greedy
 * completions are the text the whole model gives through the engine's runtime.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "llm.inference.threads=2", "llm.inference.tensor-parallel-size=2", "llm.inference.kv-cache-size=32MB"})
class TensorParallelServingTest {
    private static final List<String> PROMPTS = List.of("And the LORD said unto Moses,", "In the beginning God");

    @LocalServerPort
    int port;

    @Autowired
    ServedModel served;

    @Test
    void servesTheSameGreedyTextAsTheWholeModel() throws Exception {
        assertTrue(served.awaitReady(2, TimeUnit.MINUTES), "the model did not load: " + served.failure());
        Engine split = served.loaded().engine();
        assertEquals(2, split.tensorParallelSize());
        WebTestClient web = WebTestClient.bindToServer().baseUrl("http://localhost:" + port)
                .responseTimeout(Duration.ofMinutes(1)).build();
        try (Engine whole = Engine.load(split.dir(), 2);
             EngineRuntime runtime = new EngineRuntime(whole.runner(), whole.requireTokenizer(),
                     new RuntimeConfig(2, 8, 256, 16, 64, true, RuntimeConfig.Policy.IN_FLIGHT))) {
            for (String prompt : PROMPTS) {
                StringBuilder text = new StringBuilder();
                GenerationEvent.Finished end = runtime.submit(GenerationRequest.of(whole.encodePrompt(prompt,
                        Engine.BosPolicy.AUTO), SamplingParams.GREEDY, StopConditions.maxTokens(24, whole.stopIds())), event -> {
                            if (event instanceof GenerationEvent.Token t) {
                                text.append(t.text());
                            }
                        }).completion().get(1, TimeUnit.MINUTES);
                String expected = text.append(end.text()).toString();
                byte[] body = web.post().uri("/v1/completions").contentType(MediaType.APPLICATION_JSON)
                        .bodyValue("{\"model\": \"kjv-demo\", \"prompt\": " + JsonMapper.builder().build()
                                .writeValueAsString(prompt) + ", \"max_tokens\": 24, \"temperature\": 0}")
                        .exchange().expectStatus().isOk().expectBody().returnResult().getResponseBody();
                JsonNode json = JsonMapper.builder().build().readTree(body);
                assertThat(expected).isNotBlank();
                assertEquals(expected, json.path("choices").path(0).path("text").asString(), prompt);
            }
        }
    }
}
