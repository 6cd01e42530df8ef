package dev.llmplatform.inference.metrics;

import dev.llmplatform.engine.runtime.RuntimeStats;
import dev.llmplatform.inference.engine.ServedModel;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * The service's metrics, under {@code llm_*} in {@code /actuator/prometheus} (vLLM's names where it has one), each
 * tagged with the served {@code model}:
 * <ul>
 *   <li>{@code llm_requests_total{endpoint, outcome}}: API requests by how they ended: stop, length (finished
 *       normally), cancelled (the client went away), error, bad_request, model_not_found, context_length_exceeded,
 *       queue_full, not_ready.</li>
 *   <li>histograms (seconds): {@code llm_time_to_first_token}, {@code llm_inter_token_latency},
 *       {@code llm_e2e_request_latency}, {@code llm_request_queue_time} (submission until the scheduler admits the
 *       request into the batch); per choice.</li>
 *   <li>from the runtime: {@code llm_prompt_tokens_total}, {@code llm_prompt_tokens_cached_total},
 *       {@code llm_generation_tokens_total}, {@code llm_preemptions_total}, {@code llm_engine_cancelled_total},
 *       {@code llm_engine_steps_total}; gauges {@code llm_num_requests_running}, {@code llm_num_requests_waiting},
 *       {@code llm_kv_cache_usage_ratio}, {@code llm_kv_cache_blocks{state=used|cached_idle|total}},
 *       {@code llm_prefix_cache_hit_ratio}, {@code llm_batch_size} (sequences in the last forward pass),
 *       {@code llm_batch_tokens} (tokens in the last forward pass).</li>
 *   <li>on a backend that meters its GPU's energy (NVML), once the model is ready: {@code llm_gpu_energy_joules_total},
 *       {@code llm_gpu_generation_tokens_per_joule}, {@code llm_gpu_power_watts}, and with
 *       {@code llm.metrics.gpu-price-per-hour} set, {@code llm_gpu_cost_per_million_tokens} ({@link EnergyMetrics});
 *       absent elsewhere.</li>
 * </ul>
 */
@Component
public class InferenceMetrics {
    private static final Duration[] LATENCY_BUCKETS = durations(1, 2.5, 5, 10, 20, 40, 80, 160, 250, 500, 750, 1000,
            2500, 5000, 7500, 10_000, 20_000, 40_000, 80_000, 160_000);
    private static final Duration[] ITL_BUCKETS = durations(0.5, 1, 2.5, 5, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200,
            300, 400, 500, 750, 1000, 2500, 5000);

    private final MeterRegistry registry;
    private final ServedModel model;
    private final String modelName;
    private final Timer ttft;
    private final Timer itl;
    private final Timer e2e;
    private final Timer queue;
    private final Map<String, Counter> outcomes = new ConcurrentHashMap<>();

    public InferenceMetrics(MeterRegistry registry, ServedModel model,
                            @Value("${llm.metrics.gpu-price-per-hour:0}") double gpuPricePerHour) {
        this.registry = registry;
        this.model = model;
        this.modelName = model.name();
        this.ttft = timer("llm.time_to_first_token", "Time from the request's arrival to its first generated token.", LATENCY_BUCKETS);
        this.itl = timer("llm.inter_token_latency", "Time between consecutive generated tokens of a request.", ITL_BUCKETS);
        this.e2e = timer("llm.e2e_request_latency", "Time from the request's arrival to its last token.", LATENCY_BUCKETS);
        this.queue = timer("llm.request_queue_time", "Time a request waited before the scheduler admitted it.", LATENCY_BUCKETS);

        counter("llm.prompt_tokens", "Prompt tokens admitted (prefilled or served from the prefix cache).", RuntimeStats::promptTokens);
        counter("llm.prompt_tokens_cached", "Prompt tokens served from the prefix cache.", RuntimeStats::cachedPromptTokens);
        counter("llm.generation_tokens", "Tokens generated.", RuntimeStats::generatedTokens);
        counter("llm.preemptions", "Sequences preempted for lack of KV cache memory (recomputed later).", RuntimeStats::preemptions);
        counter("llm.engine_cancelled", "Requests cancelled in the engine (client disconnects, shutdown).", RuntimeStats::cancelled);
        counter("llm.engine_steps", "Forward passes run by the scheduler.", RuntimeStats::steps);

        gauge("llm.num_requests_running", "Requests in the running batch.", Tags.empty(), RuntimeStats::running);
        gauge("llm.num_requests_waiting", "Requests waiting to be scheduled (new or preempted).", Tags.empty(), RuntimeStats::waiting);
        gauge("llm.kv_cache_usage_ratio", "Fraction of the KV cache's blocks held by requests (0..1).", Tags.empty(), RuntimeStats::kvUsage);
        gauge("llm.kv_cache_blocks", "KV cache blocks, by state.", Tags.of("state", "used"), RuntimeStats::kvBlocksUsed);
        gauge("llm.kv_cache_blocks", "KV cache blocks, by state.", Tags.of("state", "cached_idle"), RuntimeStats::kvBlocksCachedIdle);
        gauge("llm.kv_cache_blocks", "KV cache blocks, by state.", Tags.of("state", "total"), RuntimeStats::kvBlocksTotal);
        gauge("llm.prefix_cache_hit_ratio", "Fraction of admitted prompt tokens served from the prefix cache (0..1).", Tags.empty(), RuntimeStats::prefixHitRate);
        gauge("llm.batch_size", "Sequences in the last forward pass.", Tags.empty(), RuntimeStats::lastBatchSequences);
        gauge("llm.batch_tokens", "Tokens in the last forward pass.", Tags.empty(), RuntimeStats::lastBatchTokens);
        Gauge.builder("llm.model_ready", model, m -> m.state() == ServedModel.State.READY ? 1 : 0)
                .description("1 once the model is loaded and warmed up, else 0.")
                .tag("model", modelName).register(registry);
        bindEnergyWhenReady(gpuPricePerHour);
    }

    /**
     * Whether the runtime meters energy is known only once the model has loaded (on another thread), so a virtual
     * thread waits for that and then registers the energy metrics, or nothing.
     */
    private void bindEnergyWhenReady(double gpuPricePerHour) {
        Thread.ofVirtual().name("energy-metrics-binder").start(() -> {
            try {
                while (model.state() == ServedModel.State.STARTING || model.state() == ServedModel.State.LOADING) {
                    Thread.sleep(200);
                }
            } catch (InterruptedException e) {
                return;
            }
            ServedModel.Loaded l = model.loaded();
            if (l != null) {
                EnergyMetrics.bind(registry, modelName, l.runtime(), gpuPricePerHour);
            }
        });
    }

    private Timer timer(String name, String description, Duration[] buckets) {
        return Timer.builder(name).description(description).tag("model", modelName)
                .serviceLevelObjectives(buckets).register(registry);
    }

    private void counter(String name, String description, ToDoubleFunction<RuntimeStats> f) {
        FunctionCounter.builder(name, model, m -> stat(m, f)).description(description).tag("model", modelName)
                .register(registry);
    }

    private void gauge(String name, String description, Tags tags, ToDoubleFunction<RuntimeStats> f) {
        Gauge.builder(name, model, m -> stat(m, f)).description(description).tag("model", modelName).tags(tags)
                .register(registry);
    }

    private static double stat(ServedModel m, ToDoubleFunction<RuntimeStats> f) {
        ServedModel.Loaded l = m.loaded();
        return l == null ? 0 : f.applyAsDouble(l.runtime().stats());
    }

    public void outcome(String endpoint, String outcome) {
        outcomes.computeIfAbsent(endpoint + '\0' + outcome, k -> Counter.builder("llm.requests")
                .description("API requests, by endpoint and how they ended.")
                .tag("model", modelName).tag("endpoint", endpoint).tag("outcome", outcome)
                .register(registry)).increment();
    }

    /** The count of {@code llm_requests_total} for an endpoint and outcome (for tests and the benchmark). */
    public double outcomeCount(String endpoint, String outcome) {
        Counter c = outcomes.get(endpoint + '\0' + outcome);
        return c == null ? 0 : c.count();
    }

    public void timeToFirstToken(long nanos) {
        ttft.record(nanos, TimeUnit.NANOSECONDS);
    }

    public void interTokenLatency(long nanos) {
        itl.record(nanos, TimeUnit.NANOSECONDS);
    }

    public void endToEnd(long nanos) {
        e2e.record(nanos, TimeUnit.NANOSECONDS);
    }

    public void queueTime(long nanos) {
        queue.record(nanos, TimeUnit.NANOSECONDS);
    }

    private static Duration[] durations(double... millis) {
        Duration[] d = new Duration[millis.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = Duration.ofNanos((long) (millis[i] * 1_000_000));
        }
        return d;
    }
}
