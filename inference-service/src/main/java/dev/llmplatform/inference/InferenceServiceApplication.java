package dev.llmplatform.inference;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;

/**
 * The OpenAI-compatible inference service: one model, embedded in-process (engine + in-flight batching runtime),
 * served over HTTP with Server-Sent Events for streaming.
 */
@SpringBootApplication
@ConfigurationPropertiesScan
public class InferenceServiceApplication {

    public static void main(String[] args) {
        limitEventLoops();
        SpringApplication.run(InferenceServiceApplication.class, args);
    }

    /**
     * Netty's event loops default to one per core; here the cores belong to the forward pass, and a few loops serve
     * thousands of streams. Set {@code -Dreactor.netty.ioWorkerCount=N} to choose.
     */
    public static void limitEventLoops() {
        if (System.getProperty("reactor.netty.ioWorkerCount") == null) {
            System.setProperty("reactor.netty.ioWorkerCount",
                    Integer.toString(Math.max(2, Runtime.getRuntime().availableProcessors() / 4)));
        }
    }
}
