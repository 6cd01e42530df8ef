package dev.llmplatform.inference.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.RateLimitException;
import com.openai.models.completions.CompletionCreateParams;
import dev.llmplatform.engine.runtime.GenerationRequest;
import dev.llmplatform.engine.runtime.RequestHandle;
import dev.llmplatform.engine.runtime.SamplingParams;
import dev.llmplatform.engine.runtime.StopConditions;
import dev.llmplatform.inference.engine.ServedModel;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.web.reactive.server.WebTestClient;

/** A full waiting queue is answered with 429 (the SDK's RateLimitException) and Retry-After; nothing is left running. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "llm.inference.threads=1", "llm.inference.max-running=1", "llm.inference.max-waiting=2",
        "llm.inference.kv-cache-size=16MB"})
class QueueFullTest {
    @LocalServerPort
    int port;

    @Autowired
    ServedModel served;

    @Test
    void aFullQueueIsTooManyRequests() throws Exception {
        assertThat(served.awaitReady(2, TimeUnit.MINUTES)).isTrue();
        var runtime = served.loaded().runtime();
        int[] prompt = served.loaded().engine().encodePrompt("In the beginning", dev.llmplatform.engine.Engine.BosPolicy.AUTO);
        List<RequestHandle> fill = List.of(
                runtime.submit(GenerationRequest.of(prompt, SamplingParams.GREEDY, StopConditions.maxTokens(1000, Set.of()))),
                runtime.submit(GenerationRequest.of(prompt, SamplingParams.GREEDY, StopConditions.maxTokens(1000, Set.of()))));
        try {
            var client = OpenAIOkHttpClient.builder().baseUrl("http://localhost:" + port + "/v1").apiKey("x").maxRetries(0).build();
            var e = assertThrows(RateLimitException.class, () -> client.completions().create(CompletionCreateParams.builder()
                    .model("kjv-demo").prompt("In the beginning").maxTokens(4).build()));
            assertEquals(429, e.statusCode());
            assertEquals("queue_full", e.code().orElseThrow());
            assertThat(e.headers().values("Retry-After")).containsExactly("1");

            WebTestClient.bindToServer().baseUrl("http://localhost:" + port).build()
                    .post().uri("/v1/chat/completions").header("Content-Type", "application/json")
                    .bodyValue("{\"model\":\"kjv-demo\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":2,\"stream\":true}")
                    .exchange().expectStatus().isEqualTo(429)
                    .expectBody().jsonPath("$.error.type").isEqualTo("rate_limit_error");
        } finally {
            fill.forEach(RequestHandle::cancel);
        }
        for (RequestHandle h : fill) {
            h.completion().get(30, TimeUnit.SECONDS);
        }
        assertEquals(0, runtime.stats().running());
        assertEquals(0, runtime.stats().waiting());
        assertEquals(0, runtime.stats().kvBlocksUsed());
    }
}
