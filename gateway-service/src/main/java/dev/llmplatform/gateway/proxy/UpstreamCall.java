package dev.llmplatform.gateway.proxy;

import dev.llmplatform.gateway.fleet.Instance;
import dev.llmplatform.gateway.metrics.GatewayMetrics;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One attempt of a request on one instance, from choice to the end of its response: holds the instance's in-flight
 * slot and its circuit breaker permit, and on {@link #finish} releases both once, records the outcome in the breaker
 * (failures count against the instance; a client that left counts as neither) and in the metrics.
 */
final class UpstreamCall {
    /** Exchange attribute holding the current attempt. */
    static final String ATTR = UpstreamCall.class.getName();

    /** How an attempt ended. */
    enum Outcome {
        OK(false), CLIENT_ERROR(false), UPSTREAM_ERROR(true), BROKEN(true), CANCELLED(false), TIMEOUT(true),
        UNREACHABLE(true), RETRIED(false);

        final boolean instanceFailure;

        Outcome(boolean instanceFailure) {
            this.instanceFailure = instanceFailure;
        }

        String tag() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    final Instance instance;
    final String route;
    final String model;
    private final CircuitBreaker breaker;
    private final GatewayMetrics metrics;
    private final long started = System.nanoTime();
    private final AtomicBoolean finished = new AtomicBoolean();

    UpstreamCall(Instance instance, CircuitBreaker breaker, String route, String model, GatewayMetrics metrics) {
        this.instance = instance;
        this.breaker = breaker;
        this.route = route;
        this.model = model;
        this.metrics = metrics;
        instance.acquire();
    }

    void finish(Outcome outcome, Throwable cause) {
        if (!finished.compareAndSet(false, true)) {
            return;
        }
        instance.release();
        long nanos = System.nanoTime() - started;
        if (outcome.instanceFailure) {
            breaker.onError(nanos, TimeUnit.NANOSECONDS,
                    cause != null ? cause : new IllegalStateException("instance failure: " + outcome.tag()));
        } else if (outcome == Outcome.CANCELLED) {
            breaker.releasePermission();
        } else {
            breaker.onSuccess(nanos, TimeUnit.NANOSECONDS);
        }
        if (outcome != Outcome.RETRIED) {
            metrics.request(route, model, instance.id(), outcome.tag(), nanos);
        }
    }

    /** What an answer's status says about the attempt. */
    static Outcome outcomeOf(int status) {
        if (status >= 500) {
            return Outcome.UPSTREAM_ERROR;
        }
        return status >= 400 ? Outcome.CLIENT_ERROR : Outcome.OK;
    }
}
