package dev.llmplatform.inference.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * {@code backend=cuda} with {@code tensor-parallel-size=2} on a machine without GPUs: the service starts, the model
 * fails to load with a message naming the setting and everything missing, readiness and liveness are down, and
 * requests get OpenAI's 503 with the same reason.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "llm.inference.threads=2", "llm.inference.backend=cuda", "llm.inference.tensor-parallel-size=2"})
class CudaTensorParallelBackendTest {
    @LocalServerPort
    int port;

    @Autowired
    ServedModel served;

    @Test
    void withoutGpusTheModelFailsToLoadNamingWhatIsMissing() throws Exception {
        assumeTrue(!Files.exists(Path.of("/dev/nvidia0")), "this machine has a GPU");
        assertThat(served.awaitReady(2, TimeUnit.MINUTES)).isFalse();
        assertEquals(ServedModel.State.FAILED, served.state());
        assertThat(served.failure()).startsWith("llm.inference.backend=cuda with tensor-parallel-size=2 (devices [0, 1]) cannot start")
                .contains("2 GPUs (devices [0, 1]) are needed, but CUDA finds none");
        if (!"0".equals(System.getenv("NCCL_NVLS_ENABLE"))) {
            assertThat(served.failure()).contains("NCCL_NVLS_ENABLE=0 is not set");
        }

        WebTestClient web = WebTestClient.bindToServer().baseUrl("http://localhost:" + port).build();
        web.get().uri("/actuator/health/readiness").exchange().expectStatus().isEqualTo(503)
                .expectBody().jsonPath("$.components.model.status").isEqualTo("DOWN")
                .jsonPath("$.components.model.details.error").value(e -> assertThat((String) e).contains("CUDA finds none"));
        web.get().uri("/actuator/health/liveness").exchange().expectStatus().isEqualTo(503);
        web.post().uri("/v1/completions").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\": \"kjv-demo\", \"prompt\": \"In the beginning\", \"max_tokens\": 4}")
                .exchange().expectStatus().isEqualTo(503)
                .expectBody().jsonPath("$.error.code").isEqualTo("model_not_ready")
                .jsonPath("$.error.message").value(m -> assertThat((String) m).contains("tensor-parallel-size=2"));
        web.get().uri("/actuator/info").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.runtime.cudaDevices[1]").isEqualTo(1);
    }
}
