package dev.llmplatform.gateway.bench;

import dev.llmplatform.gateway.GatewayApplication;
import dev.llmplatform.gateway.fleet.Fleet;
import java.net.URI;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Least-outstanding choice against round robin over the same instances, with uneven requests (a quarter long, the
 * rest short, in one fixed random order), sent at a fixed concurrency through two gateways that differ only in
 * {@code llm.gateway.balancer.strategy}; rounds alternate between them. Prints latency percentiles (all requests and
 * the short ones, which suffer most behind long ones) and the wall time of each workload.
 *
 * <pre>
 * java -cp gateway-service.jar -Dloader.main=dev.llmplatform.gateway.bench.BalancerBenchmark \
 *   org.springframework.boot.loader.launch.PropertiesLauncher --instances http://a:8000,http://b:8000 [--model kjv-demo]
 *   [--requests 64 --concurrency 8 --short-tokens 8 --long-tokens 256 --rounds 3]
 * </pre>
 */
public final class BalancerBenchmark {
    private BalancerBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Args a = new Args(args);
        String[] instances = a.get("--instances", "http://127.0.0.1:8000,http://127.0.0.1:8001").split(",");
        String model = a.get("--model", "kjv-demo");
        int requests = a.getInt("--requests", 64);
        int concurrency = a.getInt("--concurrency", 8);
        int shortTokens = a.getInt("--short-tokens", 8);
        int longTokens = a.getInt("--long-tokens", 256);
        int rounds = a.getInt("--rounds", 3);

        Random random = new Random(42);
        List<Integer> workload = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            workload.add(random.nextInt(4) == 0 ? longTokens : shortTokens);
        }
        List<Strategy> strategies = List.of(new Strategy("least-outstanding"), new Strategy("round-robin"));
        CompletionClient client = new CompletionClient();
        try {
            for (Strategy s : strategies) {
                s.start(instances, model);
                // The gateway starts cold: give the JIT its requests before measuring.
                long warmUntil = System.nanoTime() + 20_000_000_000L;
                while (System.nanoTime() < warmUntil) {
                    client.complete(s.url, model, "Warm", 1, false);
                }
            }
            for (int r = 0; r < rounds; r++) {
                List<Strategy> order = new ArrayList<>(strategies);
                if (r % 2 == 1) {
                    Collections.reverse(order);
                }
                for (Strategy s : order) {
                    s.run(client, model, workload, concurrency, shortTokens);
                }
            }
            System.out.printf(Locale.ROOT, "%nBalancing %d requests (%d long of %d tokens, the rest %d tokens) at "
                    + "concurrency %d over %d instances, %d rounds each%n", requests,
                    workload.stream().filter(t -> t == longTokens).count(), longTokens, shortTokens, concurrency,
                    instances.length, rounds);
            System.out.printf(Locale.ROOT, "%-18s %10s %10s %10s %10s %12s%n", "strategy", "all p50", "all p99",
                    "short p50", "short p99", "wall (s)");
            for (Strategy s : strategies) {
                System.out.printf(Locale.ROOT, "%-18s %10.0f %10.0f %10.0f %10.0f %12.2f%n", s.name,
                        CompletionClient.percentile(s.all, 50) / 1e6, CompletionClient.percentile(s.all, 99) / 1e6,
                        CompletionClient.percentile(s.shortOnes, 50) / 1e6,
                        CompletionClient.percentile(s.shortOnes, 99) / 1e6,
                        s.wallNanos.stream().mapToLong(Long::longValue).sum() / 1e9 / rounds);
            }
            System.out.println("(latencies in ms)");
        } finally {
            for (Strategy s : strategies) {
                s.close();
            }
        }
    }

    /** A gateway with one balancing strategy and what was measured through it. */
    private static final class Strategy {
        final String name;
        final List<Long> all = Collections.synchronizedList(new ArrayList<>());
        final List<Long> shortOnes = Collections.synchronizedList(new ArrayList<>());
        final List<Long> wallNanos = new ArrayList<>();
        ConfigurableApplicationContext context;
        URI url;

        Strategy(String name) {
            this.name = name;
        }

        void start(String[] instances, String model) throws InterruptedException {
            List<String> args = new ArrayList<>(List.of("--server.port=0", "--llm.gateway.auth.required=false",
                    "--llm.gateway.balancer.strategy=" + name, "--llm.gateway.health.interval=500ms",
                    "--logging.level.root=WARN"));
            for (int i = 0; i < instances.length; i++) {
                args.add("--llm.gateway.instances[" + i + "]=" + instances[i]);
            }
            context = SpringApplication.run(GatewayApplication.class, args.toArray(new String[0]));
            url = URI.create("http://127.0.0.1:" + context.getEnvironment().getProperty("local.server.port"));
            Fleet fleet = context.getBean(Fleet.class);
            while (fleet.serving(model).stream().filter(i -> i.healthy()).count() < instances.length) {
                Thread.sleep(100);
            }
        }

        void run(CompletionClient client, String model, List<Integer> workload, int concurrency, int shortTokens)
                throws Exception {
            AtomicInteger next = new AtomicInteger();
            long start = System.nanoTime();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<?>> workers = new ArrayList<>();
                for (int c = 0; c < concurrency; c++) {
                    workers.add(pool.submit(() -> {
                        int i;
                        while ((i = next.getAndIncrement()) < workload.size()) {
                            int tokens = workload.get(i);
                            long latency = client.complete(url, model, "And the LORD spake", tokens, false)
                                    .latencyNanos();
                            all.add(latency);
                            if (tokens == shortTokens) {
                                shortOnes.add(latency);
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> w : workers) {
                    w.get();
                }
            }
            wallNanos.add(System.nanoTime() - start);
        }

        void close() {
            if (context != null) {
                context.close();
            }
        }
    }
}
