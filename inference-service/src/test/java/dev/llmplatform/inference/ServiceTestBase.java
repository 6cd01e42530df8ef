package dev.llmplatform.inference;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import dev.llmplatform.inference.engine.ServedModel;
import dev.llmplatform.inference.metrics.InferenceMetrics;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * The service on a random port, serving the bundled kjv-demo model (found from the module directory through the
 * default relative path); one application context shared by every test class that extends this.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "llm.inference.threads=2",
        "llm.inference.kv-cache-size=64MB",
        "llm.inference.max-running=16",
        "logging.level.dev.llmplatform.inference=DEBUG",
})
public abstract class ServiceTestBase {
    public static final String MODEL = "kjv-demo";

    @LocalServerPort
    protected int port;

    @Autowired
    protected ServedModel served;

    @Autowired
    protected InferenceMetrics metrics;

    protected WebTestClient web;

    @BeforeEach
    void awaitModel() throws InterruptedException {
        assertTrue(served.awaitReady(2, TimeUnit.MINUTES), "the model did not load: " + served.failure());
        web = WebTestClient.bindToServer().baseUrl("http://localhost:" + port).responseTimeout(Duration.ofMinutes(1)).build();
    }

    /** The official OpenAI client, without retries (so that 429 and 503 surface at once). */
    protected OpenAIClient openAi() {
        return OpenAIOkHttpClient.builder()
                .baseUrl("http://localhost:" + port + "/v1")
                .apiKey("not-needed")
                .maxRetries(0)
                .timeout(Duration.ofMinutes(1))
                .build();
    }

    protected ServedModel.Loaded model() {
        return served.loaded();
    }
}
