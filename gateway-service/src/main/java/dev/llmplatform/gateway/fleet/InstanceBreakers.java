package dev.llmplatform.gateway.fleet;

import dev.llmplatform.gateway.config.GatewayProperties;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.micrometer.tagged.TaggedCircuitBreakerMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.stereotype.Component;

/**
 * One Resilience4j circuit breaker per instance (named by its {@code host:port}): failed calls (connect errors,
 * first-byte timeouts, 5xx answers, streams broken by the instance) open it, and an open circuit keeps the instance out
 * of rotation until it lets probe calls through again. Exported as {@code resilience4j_circuitbreaker_state{name}}.
 */
@Component
public class InstanceBreakers {
    private final CircuitBreakerRegistry registry;

    public InstanceBreakers(GatewayProperties props, MeterRegistry meters) {
        GatewayProperties.CircuitBreaker c = props.circuitBreaker();
        CircuitBreakerConfig config = CircuitBreakerConfig.custom()
                .failureRateThreshold(c.failureRateThreshold())
                .slidingWindowSize(c.slidingWindowSize())
                .minimumNumberOfCalls(c.minimumCalls())
                .waitDurationInOpenState(c.openDuration())
                .automaticTransitionFromOpenToHalfOpenEnabled(true)
                .permittedNumberOfCallsInHalfOpenState(2)
                .build();
        this.registry = CircuitBreakerRegistry.of(config);
        TaggedCircuitBreakerMetrics.ofCircuitBreakerRegistry(registry).bindTo(meters);
    }

    public CircuitBreaker of(Instance instance) {
        return registry.circuitBreaker(instance.id());
    }

    /** Whether calls may go to the instance now (closed, or half-open with probe permits left). */
    public boolean permits(Instance instance) {
        return of(instance).tryAcquirePermission();
    }
}
