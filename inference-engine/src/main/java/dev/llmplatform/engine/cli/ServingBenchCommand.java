package dev.llmplatform.engine.cli;

import dev.llmplatform.engine.Engine;
import dev.llmplatform.engine.bench.EngineTarget;
import dev.llmplatform.engine.bench.ServingBenchmark;
import dev.llmplatform.engine.bench.Workload;
import dev.llmplatform.engine.runtime.EngineRuntime;
import dev.llmplatform.engine.runtime.RuntimeConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Replays a generated workload (wide prompt and output length distributions) against the runtime, once per
 * scheduling policy, and reports throughput and latency percentiles, with in-flight batching's throughput as a
 * ratio to static batching's when both run.
 */
@Command(name = "bench-serving", mixinStandardHelpOptions = true,
        description = "Serving benchmark: a request workload through the runtime (in-flight vs static batching).")
final class ServingBenchCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Mixin
    ParallelOptions parallelOptions;

    @Option(names = "--requests", defaultValue = "64")
    int requests;

    @Option(names = "--concurrency", defaultValue = "16", description = "Most requests in flight (default ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--rate", defaultValue = "Infinity", description = "Arrivals per second (Poisson); Infinity sends at once.")
    double rate;

    @Option(names = "--prompt-len", defaultValue = "16:256", paramLabel = "MIN:MAX")
    String promptLen;

    @Option(names = "--output-len", defaultValue = "8:512", paramLabel = "MIN:MAX")
    String outputLen;

    @Option(names = "--policy", defaultValue = "both", description = "in-flight, static or both (default ${DEFAULT-VALUE}).")
    String policy;

    @Option(names = "--max-running", defaultValue = "16", description = "Most sequences per batch (default ${DEFAULT-VALUE}).")
    int maxRunning;

    @Option(names = "--max-tokens-per-step", defaultValue = "256")
    int maxTokensPerStep;

    @Option(names = "--kv-cache-mb", defaultValue = "1024")
    int kvCacheMb;

    @Option(names = "--seed", defaultValue = "1")
    long seed;

    @Option(names = "--json")
    boolean json;

    @Override
    public Integer call() throws Exception {
        int[] p = range(promptLen, "--prompt-len");
        int[] o = range(outputLen, "--output-len");
        List<RuntimeConfig.Policy> policies = switch (policy) {
            case "both" -> List.of(RuntimeConfig.Policy.IN_FLIGHT, RuntimeConfig.Policy.STATIC);
            case "in-flight" -> List.of(RuntimeConfig.Policy.IN_FLIGHT);
            case "static" -> List.of(RuntimeConfig.Policy.STATIC);
            default -> throw new IllegalArgumentException("--policy is '" + policy + "', expected in-flight, static or both");
        };
        JsonMapper mapper = JsonMapper.builder().build();
        ArrayNode results = mapper.createArrayNode();
        List<Double> throughputs = new ArrayList<>();
        try (Engine engine = Engine.load(modelOptions.model, modelOptions.threads, parallelOptions.tensorParallelSize)) {
            var model = engine.runner();
            Workload workload = Workload.generate(seed, requests, model.vocabSize(), p[0], Math.min(p[1], model.contextLength() / 2),
                    o[0], Math.min(o[1], model.contextLength() / 2), rate);
            int blocks = RuntimeConfig.blocksFor((long) kvCacheMb << 20, engine.kvBytesPerPosition(), 16);
            for (RuntimeConfig.Policy pol : policies) {
                RuntimeConfig cfg = new RuntimeConfig(maxRunning, Math.max(requests, 1), maxTokensPerStep, 16, blocks, true, pol);
                try (EngineRuntime runtime = new EngineRuntime(model, null, cfg)) {
                    // Warm-up: compile the kernels before measuring.
                    ServingBenchmark.run(new EngineTarget(runtime),
                            Workload.generate(seed + 1, Math.min(4, requests), model.vocabSize(), p[0], p[0] + 8, 4, 8, Double.POSITIVE_INFINITY),
                            concurrency, 600);
                    ServingBenchmark.Result r = ServingBenchmark.run(new EngineTarget(runtime), workload, concurrency, 3600);
                    throughputs.add(r.outputThroughput());
                    ObjectNode node = mapper.valueToTree(r);
                    node.put("policy", pol.name().toLowerCase().replace('_', '-'));
                    node.put("preemptions", runtime.stats().preemptions());
                    results.add(node);
                    if (!json) {
                        print(pol, r, runtime.stats().preemptions());
                    }
                }
            }
        }
        if (json) {
            ObjectNode out = mapper.createObjectNode();
            out.put("requests", requests);
            out.put("concurrency", concurrency);
            out.put("rate", rate);
            out.set("results", results);
            if (throughputs.size() == 2) {
                out.put("in_flight_over_static", throughputs.get(0) / throughputs.get(1));
            }
            System.out.println(out);
        } else if (throughputs.size() == 2) {
            System.out.printf("in-flight / static output throughput: %.2fx%n", throughputs.get(0) / throughputs.get(1));
        }
        return 0;
    }

    private void print(RuntimeConfig.Policy pol, ServingBenchmark.Result r, long preemptions) {
        System.out.printf("%s: %d requests (%d failed) in %.1f s, %.2f req/s, %.1f output tokens/s, %d preemptions%n",
                pol, r.completed(), r.failed(), r.seconds(), r.requestThroughput(), r.outputThroughput(), preemptions);
        System.out.printf("  TTFT ms  p50 %.1f  p90 %.1f  p99 %.1f%n", r.ttftMs().p50(), r.ttftMs().p90(), r.ttftMs().p99());
        System.out.printf("  TPOT ms  p50 %.1f  p90 %.1f  p99 %.1f%n", r.tpotMs().p50(), r.tpotMs().p90(), r.tpotMs().p99());
        System.out.printf("  ITL ms   p50 %.1f  p90 %.1f  p99 %.1f%n", r.itlMs().p50(), r.itlMs().p90(), r.itlMs().p99());
        if (!r.errors().isEmpty()) {
            System.out.println("  first error: " + r.errors().getFirst());
        }
    }

    private static int[] range(String s, String option) {
        String[] parts = s.split(":");
        try {
            int min = Integer.parseInt(parts[0]);
            int max = parts.length > 1 ? Integer.parseInt(parts[1]) : min;
            if (min < 1 || max < min) {
                throw new NumberFormatException();
            }
            return new int[] {min, max};
        } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
            throw new IllegalArgumentException(option + " is '" + s + "', expected MIN:MAX with 1 <= MIN <= MAX");
        }
    }
}
