package dev.llmplatform.gateway.bench;

import dev.llmplatform.gateway.GatewayApplication;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * What the gateway adds on top of calling an inference instance directly, same workload on both paths in alternating
 * rounds: per-request latency (short non-streamed completions, one at a time), per-event latency of streams (time to
 * first event, gaps between events, one stream at a time), and throughput at a concurrency (streamed tokens per
 * second, and completions per second for one-token answers: the request rate the gateway sustains here).
 *
 * <pre>
 * java -cp gateway-service.jar -Dloader.main=dev.llmplatform.gateway.bench.GatewayOverheadBenchmark \
 *   org.springframework.boot.loader.launch.PropertiesLauncher --instance http://127.0.0.1:8000 [--model kjv-demo]
 *   [--rounds 5 --requests 100 --streams 8 --stream-tokens 64 --concurrency 16 --warmup-seconds 60]
 * </pre>
 */
public final class GatewayOverheadBenchmark {
    private GatewayOverheadBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Args a = new Args(args);
        URI instance = URI.create(a.get("--instance", "http://127.0.0.1:8000"));
        String model = a.get("--model", "kjv-demo");
        int rounds = a.getInt("--rounds", 5);
        int requests = a.getInt("--requests", 100);
        int streams = a.getInt("--streams", 8);
        int streamTokens = a.getInt("--stream-tokens", 64);
        int concurrency = a.getInt("--concurrency", 16);

        ConfigurableApplicationContext gateway = SpringApplication.run(GatewayApplication.class,
                "--server.port=0", "--llm.gateway.instances[0]=" + instance, "--llm.gateway.auth.required=false",
                "--logging.level.root=WARN");
        try {
            URI via = URI.create("http://127.0.0.1:" + gateway.getEnvironment().getProperty("local.server.port"));
            var fleet = gateway.getBean(dev.llmplatform.gateway.fleet.Fleet.class);
            while (!fleet.models().contains(model)) {
                Thread.sleep(100);
            }
            CompletionClient client = new CompletionClient();
            Path direct = new Path("direct", instance);
            Path proxied = new Path("gateway", via);
            // Warm-up: the gateway starts cold, and its request path needs some 10^4 requests before the JIT has
            // compiled it fully (measured: 1000 requests leave it twice as slow). Through the gateway, so the instance
            // warms up too.
            long warmUntil = System.nanoTime() + a.getInt("--warmup-seconds", 60) * 1_000_000_000L;
            for (int i = 0; System.nanoTime() < warmUntil; i++) {
                client.complete(proxied.url, model, "Warm", 1, i % 2 == 0);
            }
            for (int i = 0; i < 1000; i++) {
                client.complete(direct.url, model, "Warm", 1, i % 2 == 0);
            }
            for (int r = 0; r < rounds; r++) {
                // Alternate which path goes first so that drift on the machine hits both alike.
                for (Path p : r % 2 == 0 ? List.of(direct, proxied) : List.of(proxied, direct)) {
                    for (int i = 0; i < requests; i++) {
                        p.requestLatency.add(client.complete(p.url, model, "In the beginning", 1, false).latencyNanos());
                    }
                    for (int i = 0; i < streams; i++) {
                        CompletionClient.Timing t = client.complete(p.url, model, "And God said", streamTokens, true);
                        p.firstEvent.add(t.firstNanos());
                        for (int k = 1; k < t.eventNanos().size(); k++) {
                            p.eventGap.add(t.eventNanos().get(k) - t.eventNanos().get(k - 1));
                        }
                    }
                    p.tokensPerSecond.add(load(client, p.url, model, concurrency, concurrency * 2, streamTokens, true));
                    p.requestsPerSecond.add(load(client, p.url, model, concurrency, requests, 1, false));
                }
            }
            System.out.printf(Locale.ROOT, "%nGateway overhead: %d rounds; %d requests one at a time, %d streams of %d "
                    + "tokens, load at concurrency %d; instance %s%n", rounds, requests, streams, streamTokens,
                    concurrency, instance);
            System.out.printf(Locale.ROOT, "%-34s %12s %12s %12s%n", "", "direct", "gateway", "added");
            row("request latency p50 (ms)", direct.requestLatency, proxied.requestLatency, 50);
            row("request latency p99 (ms)", direct.requestLatency, proxied.requestLatency, 99);
            row("stream first event p50 (ms)", direct.firstEvent, proxied.firstEvent, 50);
            row("stream first event p99 (ms)", direct.firstEvent, proxied.firstEvent, 99);
            row("gap between events p50 (ms)", direct.eventGap, proxied.eventGap, 50);
            row("gap between events p99 (ms)", direct.eventGap, proxied.eventGap, 99);
            double dTok = median(direct.tokensPerSecond);
            double gTok = median(proxied.tokensPerSecond);
            double dReq = median(direct.requestsPerSecond);
            double gReq = median(proxied.requestsPerSecond);
            System.out.printf(Locale.ROOT, "%-34s %12.0f %12.0f %11.1f%%%n", "streamed tokens/s (median round)", dTok,
                    gTok, 100 * (gTok / dTok - 1));
            System.out.printf(Locale.ROOT, "%-34s %12.0f %12.0f %11.1f%%%n", "1-token completions/s", dReq, gReq,
                    100 * (gReq / dReq - 1));
        } finally {
            gateway.close();
        }
    }

    /** Sends {@code total} completions, {@code concurrency} at a time; returns tokens/s (streamed) or requests/s. */
    private static double load(CompletionClient client, URI url, String model, int concurrency, int total,
                               int maxTokens, boolean stream) throws Exception {
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> done = new ArrayList<>();
            var next = new java.util.concurrent.atomic.AtomicInteger();
            long start = System.nanoTime();
            for (int c = 0; c < concurrency; c++) {
                done.add(pool.submit(() -> {
                    while (next.getAndIncrement() < total) {
                        client.complete(url, model, "Blessed are the", maxTokens, stream);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            return (stream ? (double) total * maxTokens : total) / seconds;
        }
    }

    private static void row(String name, List<Long> direct, List<Long> gateway, double p) {
        double d = CompletionClient.percentile(direct, p) / 1e6;
        double g = CompletionClient.percentile(gateway, p) / 1e6;
        System.out.printf(Locale.ROOT, "%-34s %12.3f %12.3f %+12.3f%n", name, d, g, g - d);
    }

    private static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        s.sort(null);
        return s.get(s.size() / 2);
    }

    /** One way to the instance and what was measured on it. */
    private static final class Path {
        final String name;
        final URI url;
        final List<Long> requestLatency = new ArrayList<>();
        final List<Long> firstEvent = new ArrayList<>();
        final List<Long> eventGap = new ArrayList<>();
        final List<Double> tokensPerSecond = new ArrayList<>();
        final List<Double> requestsPerSecond = new ArrayList<>();

        Path(String name, URI url) {
            this.name = name;
            this.url = url;
        }
    }
}
