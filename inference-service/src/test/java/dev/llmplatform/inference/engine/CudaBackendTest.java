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
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * {@code llm.inference.backend=cuda} on a machine without an NVIDIA GPU: the service starts, the model fails to load
 * with a message that names the backend and what is missing, and readiness is down (no crash).
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "llm.inference.threads=2", "llm.inference.backend=cuda"})
class CudaBackendTest {
    @LocalServerPort
    int port;

    @Autowired
    ServedModel served;

    @Test
    void withoutAGpuTheModelFailsToLoadSayingWhy() throws Exception {
        assumeTrue(!Files.exists(Path.of("/dev/nvidia0")), "this machine has a GPU");
        assertThat(served.awaitReady(2, TimeUnit.MINUTES)).isFalse();
        assertEquals(ServedModel.State.FAILED, served.state());
        assertThat(served.failure()).contains("llm.inference.backend=cuda: no usable CUDA GPU on this machine")
                .contains("llm.inference.backend=cpu");
        WebTestClient web = WebTestClient.bindToServer().baseUrl("http://localhost:" + port).build();
        web.get().uri("/actuator/health/readiness").exchange().expectStatus().isEqualTo(503)
                .expectBody().jsonPath("$.components.model.status").isEqualTo("DOWN");
    }
}
