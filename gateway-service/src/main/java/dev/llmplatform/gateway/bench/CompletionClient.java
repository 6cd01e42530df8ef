package dev.llmplatform.gateway.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Sends completions to an OpenAI-compatible server and notes when the answer and each streamed event arrive. */
final class CompletionClient {
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    /**
     * @param startNanos when the request was sent
     * @param eventNanos arrival of each {@code data:} event but {@code [DONE]} (streamed), or of the whole answer
     * @param endNanos   when the response was complete
     */
    record Timing(long startNanos, List<Long> eventNanos, long endNanos) {
        long latencyNanos() {
            return endNanos - startNanos;
        }

        long firstNanos() {
            return eventNanos.isEmpty() ? latencyNanos() : eventNanos.getFirst() - startNanos;
        }
    }

    Timing complete(URI base, String model, String prompt, int maxTokens, boolean stream) throws IOException,
            InterruptedException {
        String body = """
                {"model": "%s", "prompt": "%s", "max_tokens": %d, "temperature": 0, "ignore_eos": true, "stream": %s}"""
                .formatted(model, prompt, maxTokens, stream);
        HttpRequest request = HttpRequest.newBuilder(base.resolve("/v1/completions"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        long start = System.nanoTime();
        HttpResponse<java.io.InputStream> response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        List<Long> events = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            if (response.statusCode() != 200) {
                throw new IOException("HTTP " + response.statusCode() + " from " + base + ": " + r.readLine());
            }
            String line;
            while ((line = r.readLine()) != null) {
                if (stream && line.startsWith("data: ") && !line.equals("data: [DONE]")) {
                    events.add(System.nanoTime());
                }
            }
        }
        long end = System.nanoTime();
        if (!stream) {
            events.add(end);
        }
        return new Timing(start, events, end);
    }

    static long percentile(List<Long> values, double p) {
        List<Long> sorted = new ArrayList<>(values);
        sorted.sort(null);
        int i = (int) Math.min(sorted.size() - 1, Math.max(0, Math.ceil(p / 100 * sorted.size()) - 1));
        return sorted.get(i);
    }
}
