package dev.llmplatform.inference.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.InternalServerException;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.llmplatform.inference.engine.ServedModel;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.web.reactive.server.WebTestClient;

/** Without a loaded model the API answers 503, readiness is down, and a failed load turns liveness to broken. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "llm.inference.model=models/no-such-model", "llm.inference.served-model-name=kjv-demo"})
class NotReadyTest {
    @LocalServerPort
    int port;

    @Autowired
    ServedModel served;

    @Test
    void aModelThatFailedToLoadIsServiceUnavailable() throws Exception {
        assertThat(served.awaitReady(1, TimeUnit.MINUTES)).isFalse();
        assertEquals(ServedModel.State.FAILED, served.state());
        assertThat(served.failure()).contains("models/no-such-model");

        var client = OpenAIOkHttpClient.builder().baseUrl("http://localhost:" + port + "/v1").apiKey("x").maxRetries(0).build();
        var e = assertThrows(InternalServerException.class, () -> client.chat().completions().create(
                ChatCompletionCreateParams.builder().model("kjv-demo").addUserMessage("Hello").build()));
        assertEquals(503, e.statusCode());
        assertEquals("model_not_ready", e.code().orElseThrow());
        assertThat(e.getMessage()).contains("failed to load");

        WebTestClient web = WebTestClient.bindToServer().baseUrl("http://localhost:" + port).build();
        web.get().uri("/actuator/health/readiness").exchange().expectStatus().isEqualTo(503)
                .expectBody().jsonPath("$.components.model.status").isEqualTo("DOWN");
        web.get().uri("/actuator/health/liveness").exchange().expectStatus().isEqualTo(503);
        web.get().uri("/v1/models").exchange().expectStatus().isOk().expectBody().jsonPath("$.data[0].id").isEqualTo("kjv-demo");
    }
}
