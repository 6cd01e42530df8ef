package dev.llmplatform.gateway.metrics;

import dev.llmplatform.gateway.fleet.Instance;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.springframework.stereotype.Component;

/**
 * The gateway's own series (Prometheus names): per route and instance {@code llm_gateway_requests_seconds} (count and
 * latency by outcome) and {@code llm_gateway_time_to_first_byte_seconds}; {@code llm_gateway_retries_total},
 * {@code llm_gateway_rejected_total{code}} (answered by the gateway itself), {@code llm_gateway_rate_limited_total},
 * {@code llm_gateway_instance_up} and {@code llm_gateway_instance_in_flight}. Open circuits are Resilience4j's
 * {@code resilience4j_circuitbreaker_state{name=<instance>,state="open"}}.
 */
@Component
public class GatewayMetrics {
    private static final Duration[] BUCKETS = {Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(10),
            Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
            Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5),
            Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofSeconds(60), Duration.ofSeconds(120)};

    private final MeterRegistry registry;

    public GatewayMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    /** A request's end on one instance: {@code outcome} is ok, client_error, upstream_error, broken, cancelled,
     * timeout or unreachable. */
    public void request(String route, String model, String instance, String outcome, long nanos) {
        Timer.builder("llm_gateway_requests")
                .description("Requests forwarded to instances, by route, model, instance and outcome")
                .tags("route", route, "model", model, "instance", instance, "outcome", outcome)
                .serviceLevelObjectives(BUCKETS)
                .register(registry)
                .record(nanos, TimeUnit.NANOSECONDS);
    }

    public void firstByte(String route, String instance, long nanos) {
        Timer.builder("llm_gateway_time_to_first_byte")
                .description("From the request's arrival to the first response byte sent to the client")
                .tags("route", route, "instance", instance)
                .serviceLevelObjectives(BUCKETS)
                .register(registry)
                .record(nanos, TimeUnit.NANOSECONDS);
    }

    public void retry(String route, String instance, String reason) {
        Counter.builder("llm_gateway_retries").description("Attempts that failed before the first byte and moved on")
                .tags("route", route, "instance", instance, "reason", reason).register(registry).increment();
    }

    public void rejected(String code) {
        Counter.builder("llm_gateway_rejected").description("Requests the gateway answered itself with an error")
                .tags("code", code).register(registry).increment();
    }

    public void rateLimited(String key, String limit) {
        Counter.builder("llm_gateway_rate_limited").description("Requests refused by a key's limit")
                .tags("key", key, "limit", limit).register(registry).increment();
    }

    public void rateLimitStoreError() {
        Counter.builder("llm_gateway_rate_limit_store_errors")
                .description("Admissions let through because the rate limit store failed").register(registry).increment();
    }

    /** Gauges of one instance, for as long as the gateway knows it. */
    public void instanceAdded(Instance instance) {
        Gauge.builder("llm_gateway_instance_up", instance, i -> i.healthy() ? 1 : 0)
                .description("1 while the instance is in rotation").tag("instance", instance.id())
                .strongReference(false).register(registry);
        Gauge.builder("llm_gateway_instance_in_flight", instance, Instance::inFlight)
                .description("The gateway's requests in flight on the instance").tag("instance", instance.id())
                .strongReference(false).register(registry);
    }
}
