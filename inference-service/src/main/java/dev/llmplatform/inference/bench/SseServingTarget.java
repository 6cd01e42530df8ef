package dev.llmplatform.inference.bench;

import dev.llmplatform.engine.bench.ServingTarget;
import dev.llmplatform.engine.bench.Workload;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Sends benchmark requests to an OpenAI-compatible server (this service, vLLM, TGI, llama.cpp's server, ...) as
 * streaming {@code POST /v1/completions} with the prompt as token ids, greedy, {@code ignore_eos} (a vLLM extension
 * this service also has) and {@code stream_options.include_usage}, like vLLM's benchmark_serving. Every SSE chunk
 * that carries text counts as a token; the generated count comes from the usage chunk.
 *
 * <p>Chunks are not parsed as JSON, only recognised, so that the client's own cost stays small next to the server's.
 */
public final class SseServingTarget implements ServingTarget {
    private final HttpClient http;
    private final URI uri;
    private final String model;

    /** @param baseUrl the server's root, e.g. {@code http://localhost:8000} */
    public SseServingTarget(String baseUrl, String model) {
        // Two threads read every stream: the client should take as little CPU from the server as it can.
        ExecutorService executor = Executors.newFixedThreadPool(2, Thread.ofPlatform().name("bench-client-", 0).daemon().factory());
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10))
                .executor(executor).build();
        this.uri = URI.create(baseUrl.replaceAll("/+$", "") + "/v1/completions");
        this.model = model;
    }

    @Override
    public void send(Workload.Spec request, Callbacks callbacks) {
        StringBuilder body = new StringBuilder(64 + request.promptIds().length * 5);
        body.append("{\"model\":\"").append(model).append("\",\"prompt\":[");
        int[] ids = request.promptIds();
        for (int i = 0; i < ids.length; i++) {
            body.append(i == 0 ? "" : ",").append(ids[i]);
        }
        body.append("],\"max_tokens\":").append(request.outputTokens())
                .append(",\"temperature\":0,\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
        HttpRequest req = HttpRequest.newBuilder(uri)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                .build();
        AtomicBoolean ended = new AtomicBoolean();
        http.sendAsync(req, HttpResponse.BodyHandlers.fromLineSubscriber(new Lines(callbacks, ended)))
                .whenComplete((response, error) -> {
                    if (error != null) {
                        end(ended, () -> callbacks.onError(error.toString()));
                    } else if (response.statusCode() != 200) {
                        end(ended, () -> callbacks.onError("HTTP " + response.statusCode()));
                    } else {
                        end(ended, () -> callbacks.onError("the stream ended without [DONE]"));
                    }
                });
    }

    private static void end(AtomicBoolean ended, Runnable r) {
        if (ended.compareAndSet(false, true)) {
            r.run();
        }
    }

    /** Reads the event stream line by line. */
    private static final class Lines implements Flow.Subscriber<String> {
        private final Callbacks callbacks;
        private final AtomicBoolean ended;
        private int completionTokens = -1;
        private boolean error;

        Lines(Callbacks callbacks, AtomicBoolean ended) {
            this.callbacks = callbacks;
            this.ended = ended;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(String line) {
            if (!line.startsWith("data:")) {
                return;
            }
            if (line.contains("[DONE]")) {
                int n = completionTokens;
                if (!error) {
                    end(ended, () -> callbacks.onDone(n));
                }
                return;
            }
            if (line.startsWith("{\"error\"", line.indexOf('{'))) {
                error = true;
                end(ended, () -> callbacks.onError(line));
                return;
            }
            int usage = line.indexOf("\"completion_tokens\":");
            if (usage >= 0 && line.contains("\"choices\":[]")) {
                int from = usage + "\"completion_tokens\":".length();
                int to = from;
                while (to < line.length() && Character.isDigit(line.charAt(to))) {
                    to++;
                }
                completionTokens = Integer.parseInt(line.substring(from, to));
            } else if (line.contains("\"text\":\"") && !line.contains("\"text\":\"\"")) {
                callbacks.onToken();
            } else if (line.contains("\"text\":\"\"") && line.contains("\"finish_reason\":null")) {
                callbacks.onToken(); // a token whose text is held back still counts
            }
        }

        @Override
        public void onError(Throwable t) {
            end(ended, () -> callbacks.onError(t.toString()));
        }

        @Override
        public void onComplete() {
        }
    }
}
