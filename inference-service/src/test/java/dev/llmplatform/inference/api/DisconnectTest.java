package dev.llmplatform.inference.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.llmplatform.inference.ServiceTestBase;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** A client that goes away mid-stream cancels its request in the engine: its KV blocks are freed, and it is counted. */
class DisconnectTest extends ServiceTestBase {

    @Test
    void closingTheConnectionMidStreamCancelsTheEngineRequest() throws Exception {
        var before = model().runtime().stats();
        double cancelledBefore = metrics.outcomeCount("completions", "cancelled");
        String body = "{\"model\":\"kjv-demo\",\"prompt\":\"In the beginning\",\"max_tokens\":1000,\"ignore_eos\":true,"
                + "\"temperature\":0.7,\"stream\":true}";
        int tokensSeen = 0;
        try (Socket socket = new Socket("localhost", port)) {
            OutputStream out = socket.getOutputStream();
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + bytes.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(bytes);
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null) {
                if (line.contains("data: {")) {
                    tokensSeen++;
                    if (tokensSeen == 5) {
                        break;
                    }
                }
            }
            // The request is still generating: it holds KV blocks.
            var during = model().runtime().stats();
            assertThat(during.running()).isEqualTo(1);
            assertThat(during.kvBlocksUsed()).isPositive();
        } // closes the connection
        assertThat(tokensSeen).isEqualTo(5);

        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            var s = model().runtime().stats();
            assertThat(s.running()).isZero();
            assertThat(s.waiting()).isZero();
            assertThat(s.kvBlocksUsed()).as("the request's KV blocks are free").isZero();
            assertThat(s.cancelled()).as("cancelled in the engine").isEqualTo(before.cancelled() + 1);
            assertThat(metrics.outcomeCount("completions", "cancelled")).isEqualTo(cancelledBefore + 1);
        });
        var after = model().runtime().stats();
        assertThat(after.generatedTokens() - before.generatedTokens()).as("it stopped long before 1000 tokens").isLessThan(900);
        String prometheus = web.get().uri("/actuator/prometheus").exchange().expectStatus().isOk()
                .expectBody(String.class).returnResult().getResponseBody();
        assertThat(prometheus).contains("llm_engine_cancelled_total{model=\"kjv-demo\"}")
                .containsPattern("llm_requests_total\\{endpoint=\"completions\",model=\"kjv-demo\",outcome=\"cancelled\"} [1-9]");
    }
}
