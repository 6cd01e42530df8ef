package dev.llmplatform.inference.bench;

import dev.llmplatform.engine.bench.EngineTarget;
import dev.llmplatform.engine.bench.ServingBenchmark;
import dev.llmplatform.engine.bench.ServingTarget;
import dev.llmplatform.engine.bench.Workload;
import dev.llmplatform.inference.InferenceServiceApplication;
import dev.llmplatform.inference.engine.ServedModel;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The HTTP/SSE overhead of the service: one JVM starts the service, then replays the same generated workload
 * (log-uniform prompt and output lengths, as {@code engine bench-serving}) against the engine's runtime directly
 * ({@link EngineTarget}) and through {@code POST /v1/completions} with streaming ({@link SseServingTarget}), in
 * alternating rounds on the same runtime, and reports both and the difference:
 * <ul>
 *   <li>throughput: {@code --requests} requests, at most {@code --concurrency} in flight (or arriving at
 *       {@code --rate} per second); the round with the median output throughput of each target is reported;</li>
 *   <li>latency: {@code --latency-requests} requests one at a time (an idle server), for the added time to first
 *       token and per output token.</li>
 * </ul>
 * Other arguments: {@code --model DIR|registry:NAME@REF}, {@code --threads T}, {@code --max-running N},
 * {@code --prompt-len MIN:MAX}, {@code --output-len MIN:MAX}, {@code --rounds N}, {@code --warmup-rounds N},
 * {@code --seed S}, and
 * {@code --url URL --served-model-name NAME} to measure an already running OpenAI-compatible server instead (no
 * direct baseline then). Run it from the executable jar:
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -cp inference-service/target/inference-service-0.1.0-SNAPSHOT.jar \
 *   -Dloader.main=dev.llmplatform.inference.bench.ServingOverheadBenchmark \
 *   org.springframework.boot.loader.launch.PropertiesLauncher --requests 64 --concurrency 16
 * </pre>
 */
public final class ServingOverheadBenchmark {

    private ServingOverheadBenchmark() {
    }

    public static void main(String[] argv) throws Exception {
        Map<String, String> a = parse(argv);
        int requests = Integer.parseInt(a.getOrDefault("requests", "64"));
        int concurrency = Integer.parseInt(a.getOrDefault("concurrency", "16"));
        double rate = Double.parseDouble(a.getOrDefault("rate", "Infinity"));
        int rounds = Integer.parseInt(a.getOrDefault("rounds", "3"));
        int warmups = Integer.parseInt(a.getOrDefault("warmup-rounds", "2"));
        int latencyRequests = Integer.parseInt(a.getOrDefault("latency-requests", "24"));
        long seed = Long.parseLong(a.getOrDefault("seed", "1"));
        int[] promptLen = range(a.getOrDefault("prompt-len", "16:256"));
        int[] outputLen = range(a.getOrDefault("output-len", "8:256"));

        if (a.containsKey("url")) {
            String name = a.getOrDefault("served-model-name", "kjv-demo");
            int vocab = Integer.parseInt(a.getOrDefault("vocab", "4096"));
            try (ServingTarget http = new SseServingTarget(a.get("url"), name)) {
                Workload w = Workload.generate(seed, requests, vocab, promptLen[0], promptLen[1], outputLen[0], outputLen[1], rate);
                print("http", ServingBenchmark.run(http, w, concurrency, 3600));
            }
            return;
        }

        List<String> props = new ArrayList<>(List.of("--server.port=0", "--spring.main.banner-mode=off",
                "--llm.inference.max-waiting=" + Math.max(1024, requests * 2)));
        for (String key : List.of("model", "threads", "max-running", "max-tokens-per-step", "kv-cache-size")) {
            if (a.containsKey(key)) {
                props.add("--llm.inference." + key + "=" + a.get(key));
            }
        }
        props.add("--logging.level.root=WARN");
        InferenceServiceApplication.limitEventLoops();
        ConfigurableApplicationContext ctx = new SpringApplicationBuilder(InferenceServiceApplication.class)
                .run(props.toArray(String[]::new));
        try {
            ServedModel served = ctx.getBean(ServedModel.class);
            if (!served.awaitReady(30, TimeUnit.MINUTES)) {
                throw new IllegalStateException("the model did not load: " + served.failure());
            }
            var model = served.loaded();
            int context = model.description().contextLength();
            int vocab = model.description().vocabSize();
            int pMax = Math.min(promptLen[1], context / 2);
            int oMax = Math.min(outputLen[1], context / 2);
            String url = "http://localhost:" + ctx.getEnvironment().getProperty("local.server.port");
            ServingTarget direct = new EngineTarget(model.runtime());
            ServingTarget http = new SseServingTarget(url, served.name());
            System.out.printf("model %s (%s %s, context %d), %d threads, max running %d; workload: %d requests, prompt %d:%d, "
                            + "output %d:%d tokens, concurrency %d, rate %s%n", served.name(), model.description().architecture(),
                    model.description().dtype(), context, model.engine().model().pool().threads(),
                    model.runtime().config().maxRunning(), requests, promptLen[0], pMax, outputLen[0], oMax, concurrency, rate);

            // Warm-up: the JIT compiles both paths (on a workload of the same shape) before anything is measured.
            Workload w = Workload.generate(seed, requests, vocab, promptLen[0], pMax, outputLen[0], oMax, rate);
            Workload warm = Workload.generate(seed + 100, requests, vocab, promptLen[0], pMax, outputLen[0], oMax, rate);
            for (int i = 0; i < warmups; i++) {
                ServingBenchmark.run(direct, warm, concurrency, 3600);
                ServingBenchmark.run(http, warm, concurrency, 3600);
            }

            List<ServingBenchmark.Result> d = new ArrayList<>();
            List<ServingBenchmark.Result> h = new ArrayList<>();
            List<Double> ratios = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                // Alternate which goes first, so that neither always follows the other's garbage.
                ServingBenchmark.Result first = check(ServingBenchmark.run(r % 2 == 0 ? direct : http, w, concurrency, 3600));
                ServingBenchmark.Result second = check(ServingBenchmark.run(r % 2 == 0 ? http : direct, w, concurrency, 3600));
                d.add(r % 2 == 0 ? first : second);
                h.add(r % 2 == 0 ? second : first);
                ratios.add(h.getLast().outputThroughput() / d.getLast().outputThroughput());
                System.out.printf("round %d: direct %.1f tok/s, http %.1f tok/s (http/direct %.3f)%n", r + 1,
                        d.getLast().outputThroughput(), h.getLast().outputThroughput(), ratios.getLast());
            }
            ratios.sort(null);
            double medianRatio = ratios.get(ratios.size() / 2);
            ServingBenchmark.Result dm = median(d);
            ServingBenchmark.Result hm = median(h);
            System.out.println("\nthroughput (median of " + rounds + " rounds):");
            print("direct", dm);
            print("http", hm);

            Workload lw = Workload.generate(seed + 1, latencyRequests, vocab, promptLen[0], pMax, 32, 32, Double.POSITIVE_INFINITY);
            ServingBenchmark.Result dl = check(ServingBenchmark.run(direct, lw, 1, 3600));
            ServingBenchmark.Result hl = check(ServingBenchmark.run(http, lw, 1, 3600));
            System.out.println("\nlatency (" + latencyRequests + " requests one at a time, 32 output tokens):");
            print("direct", dl);
            print("http", hl);

            System.out.printf("%nHTTP/SSE overhead: throughput loss %.2f%% (median of the rounds' http/direct ratios; "
                            + "medians %.1f -> %.1f tok/s) at concurrency %d; added median TTFT %.2f ms under load, "
                            + "%.2f ms idle; added median TPOT %.3f ms idle%n",
                    100 * (1 - medianRatio), dm.outputThroughput(), hm.outputThroughput(),
                    concurrency, hm.ttftMs().p50() - dm.ttftMs().p50(), hl.ttftMs().p50() - dl.ttftMs().p50(),
                    hl.tpotMs().p50() - dl.tpotMs().p50());
        } catch (RuntimeException | Error e) {
            ctx.close();
            throw e;
        }
        // Nothing to clean up: stop at once rather than wait for the server's graceful shutdown.
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }

    private static ServingBenchmark.Result check(ServingBenchmark.Result r) {
        if (r.failed() > 0) {
            throw new IllegalStateException(r.failed() + " requests failed: " + r.errors().stream().limit(3).toList());
        }
        return r;
    }

    private static ServingBenchmark.Result median(List<ServingBenchmark.Result> rs) {
        List<ServingBenchmark.Result> sorted = new ArrayList<>(rs);
        sorted.sort(Comparator.comparingDouble(ServingBenchmark.Result::outputThroughput));
        return sorted.get(sorted.size() / 2);
    }

    private static void print(String name, ServingBenchmark.Result r) {
        System.out.printf("  %-6s %4d ok %2d failed in %6.2f s: %6.2f req/s, %8.1f output tok/s | TTFT ms p50 %7.2f p90 %7.2f p99 %7.2f"
                        + " | TPOT ms p50 %6.2f p90 %6.2f p99 %6.2f | ITL ms p50 %6.2f p90 %6.2f p99 %6.2f%n",
                name, r.completed(), r.failed(), r.seconds(), r.requestThroughput(), r.outputThroughput(),
                r.ttftMs().p50(), r.ttftMs().p90(), r.ttftMs().p99(), r.tpotMs().p50(), r.tpotMs().p90(), r.tpotMs().p99(),
                r.itlMs().p50(), r.itlMs().p90(), r.itlMs().p99());
    }

    private static Map<String, String> parse(String[] argv) {
        Map<String, String> out = new LinkedHashMap<>();
        for (int i = 0; i < argv.length; i++) {
            if (!argv[i].startsWith("--") || i + 1 >= argv.length) {
                throw new IllegalArgumentException("expected --name value pairs, got '" + argv[i] + "'");
            }
            out.put(argv[i].substring(2), argv[++i]);
        }
        return out;
    }

    private static int[] range(String s) {
        String[] p = s.split(":");
        return new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[p.length - 1])};
    }
}
