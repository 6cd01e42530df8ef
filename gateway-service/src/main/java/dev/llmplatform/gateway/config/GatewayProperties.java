package dev.llmplatform.gateway.config;

import jakarta.validation.Valid;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.annotation.Validated;

/**
 * Everything the gateway is configured with ({@code llm.gateway.*}). Every field has a default, so the gateway starts
 * with nothing set (and then knows no instances: every model is unknown until some are configured or discovered).
 *
 * @param instances          inference instances given by address (base URLs such as {@code http://10.0.0.5:8000})
 * @param discovery          inference instances found through Spring Cloud's {@code DiscoveryClient}
 * @param health             how instances are polled for health, what they serve and how loaded they are
 * @param registry           the model registry whose rollouts decide canary splits (none: no splits)
 * @param balancer           how an instance is chosen among those serving the wanted version
 * @param upstream           timeouts and retries towards instances
 * @param circuitBreaker     the per-instance circuit breaker (Resilience4j)
 * @param maxRequestSize     largest request body accepted (413 beyond it)
 * @param auth               API keys
 * @param rateLimit          where the per-key request and token counts live
 * @param stripRequestHeaders request headers never passed to instances (hop-by-hop headers are always removed)
 * @param stripResponseHeaders response headers never passed back to clients
 */
@Validated
@ConfigurationProperties("llm.gateway")
public record GatewayProperties(
        List<URI> instances,
        @Valid Discovery discovery,
        @Valid Health health,
        @Valid Registry registry,
        @Valid Balancer balancer,
        @Valid Upstream upstream,
        @Valid CircuitBreaker circuitBreaker,
        DataSize maxRequestSize,
        @Valid Auth auth,
        @Valid RateLimit rateLimit,
        List<String> stripRequestHeaders,
        List<String> stripResponseHeaders) {

    public GatewayProperties {
        instances = instances == null ? List.of() : List.copyOf(instances);
        discovery = discovery == null ? new Discovery(false, null) : discovery;
        health = health == null ? new Health(null, null, 0) : health;
        registry = registry == null ? new Registry(null, null, null) : registry;
        balancer = balancer == null ? new Balancer(null, null, 0, null) : balancer;
        upstream = upstream == null ? new Upstream(null, null, 0, null) : upstream;
        circuitBreaker = circuitBreaker == null ? new CircuitBreaker(0, 0, 0, null) : circuitBreaker;
        maxRequestSize = maxRequestSize == null ? DataSize.ofMegabytes(16) : maxRequestSize;
        auth = auth == null ? new Auth(true, null) : auth;
        rateLimit = rateLimit == null ? new RateLimit(null, null) : rateLimit;
        stripRequestHeaders = stripRequestHeaders == null
                ? List.of("Authorization", "Cookie", "Proxy-Authorization", "X-Api-Key") : List.copyOf(stripRequestHeaders);
        stripResponseHeaders = stripResponseHeaders == null ? List.of("Set-Cookie") : List.copyOf(stripResponseHeaders);
        for (URI u : instances) {
            if (u.getScheme() == null || !u.getScheme().startsWith("http") || u.getHost() == null) {
                throw new IllegalArgumentException("llm.gateway.instances: '" + u + "' is not an http(s) URL with a host");
            }
        }
    }

    /**
     * @param enabled    look instances up through the application's {@code DiscoveryClient} (Kubernetes Services with
     *                   spring-cloud-kubernetes, or {@code spring.cloud.discovery.client.simple.instances.*})
     * @param serviceIds the discovery service ids whose instances are inference instances
     */
    public record Discovery(boolean enabled, List<String> serviceIds) {
        public Discovery {
            serviceIds = serviceIds == null ? List.of() : List.copyOf(serviceIds);
        }
    }

    /**
     * @param interval       how often each instance is polled (readiness, {@code /actuator/info}, load gauges)
     * @param timeout        how long one poll may take before it counts as failed
     * @param unhealthyAfter consecutive failed polls that take an instance out of rotation (one success brings it back)
     */
    public record Health(Duration interval, Duration timeout, @Min(0) int unhealthyAfter) {
        public Health {
            interval = interval == null ? Duration.ofSeconds(2) : interval;
            timeout = timeout == null ? Duration.ofSeconds(2) : timeout;
            unhealthyAfter = unhealthyAfter == 0 ? 2 : unhealthyAfter;
        }
    }

    /**
     * @param url            the model registry's base URL; unset: no canary splits (every healthy instance of a model
     *                       serves it)
     * @param token          a read token, when the registry refuses anonymous reads
     * @param reconnectDelay pause before following the rollout event stream again after it broke
     */
    public record Registry(URI url, String token, Duration reconnectDelay) {
        public Registry {
            reconnectDelay = reconnectDelay == null ? Duration.ofSeconds(2) : reconnectDelay;
        }
    }

    /** How an instance is picked among the candidates. */
    public enum Strategy {
        /** the least outstanding work: the gateway's in-flight requests and the instance's waiting queue and KV use */
        LEAST_OUTSTANDING,
        /** in turn, ignoring load (the benchmark's baseline) */
        ROUND_ROBIN,
        /** requests with the same leading prompt to the same instance (its prefix cache hits), unless it is busier */
        PREFIX_AFFINITY
    }

    /**
     * @param strategy      least-outstanding (default), round-robin or prefix-affinity
     * @param kvCacheWeight how many outstanding requests a full KV cache counts as
     * @param prefixChars   prompt characters that make the affinity key
     * @param affinitySlack how much busier (outstanding requests) the preferred instance may be than the least busy
     *                      one before prefix affinity gives way to load
     */
    public record Balancer(Strategy strategy, @DecimalMin("0") Double kvCacheWeight, @Min(0) int prefixChars,
                           @Min(0) Integer affinitySlack) {
        public Balancer {
            strategy = strategy == null ? Strategy.LEAST_OUTSTANDING : strategy;
            kvCacheWeight = kvCacheWeight == null ? 4.0 : kvCacheWeight;
            prefixChars = prefixChars == 0 ? 256 : prefixChars;
            affinitySlack = affinitySlack == null ? 4 : affinitySlack;
        }
    }

    /**
     * @param connectTimeout   TCP connect timeout towards an instance
     * @param firstByteTimeout how long an instance may take to start answering (response headers; a streamed answer
     *                         starts with its first token, a non-streamed one when it is complete)
     * @param maxAttempts      instances tried per request; a retry happens only before anything was sent to the client
     * @param streamIdleTimeout longest silence of an instance in the middle of a streamed answer; then the stream ends
     *                         with an error event (a stalled instance must not leave the client hanging)
     */
    public record Upstream(Duration connectTimeout, Duration firstByteTimeout, @Min(0) @Max(10) int maxAttempts,
                           Duration streamIdleTimeout) {
        public Upstream {
            connectTimeout = connectTimeout == null ? Duration.ofSeconds(2) : connectTimeout;
            firstByteTimeout = firstByteTimeout == null ? Duration.ofSeconds(60) : firstByteTimeout;
            maxAttempts = maxAttempts == 0 ? 3 : maxAttempts;
            streamIdleTimeout = streamIdleTimeout == null ? Duration.ofSeconds(60) : streamIdleTimeout;
        }
    }

    /**
     * @param failureRateThreshold percent of failed calls (connect errors, timeouts, 5xx) that opens an instance's circuit
     * @param slidingWindowSize    calls the failure rate is computed over
     * @param minimumCalls         calls needed before the rate counts
     * @param openDuration         how long an open circuit keeps the instance out before probing it again
     */
    public record CircuitBreaker(@Min(0) @Max(100) int failureRateThreshold, @Min(0) int slidingWindowSize,
                                 @Min(0) int minimumCalls, Duration openDuration) {
        public CircuitBreaker {
            failureRateThreshold = failureRateThreshold == 0 ? 50 : failureRateThreshold;
            slidingWindowSize = slidingWindowSize == 0 ? 20 : slidingWindowSize;
            minimumCalls = minimumCalls == 0 ? 5 : minimumCalls;
            openDuration = openDuration == null ? Duration.ofSeconds(10) : openDuration;
        }
    }

    /**
     * @param required whether requests need a valid API key ({@code Authorization: Bearer <key>}); off: every request
     *                 is served as the key {@code anonymous}, without limits
     * @param keys     the accepted keys (their SHA-256, never the key itself) and their limits
     */
    public record Auth(boolean required, @Valid List<ApiKey> keys) {
        public Auth {
            keys = keys == null ? List.of() : List.copyOf(keys);
        }
    }

    /**
     * @param name              who the key belongs to (metrics, logs and rate-limit counters use it, never the key)
     * @param sha256            the key's SHA-256, hex ({@code printf %s "$KEY" | sha256sum})
     * @param requestsPerMinute most requests per minute; 0: no limit
     * @param tokensPerMinute   most tokens (prompt + generated) per minute; 0: no limit
     */
    public record ApiKey(@NotBlank String name, @NotNull @Pattern(regexp = "[0-9a-fA-F]{64}") String sha256,
                         @Min(0) long requestsPerMinute, @Min(0) long tokensPerMinute) {
    }

    /** Where the per-key counters live. */
    public enum Store {
        /** in this gateway's memory: limits hold per replica (N replicas allow N times the limit) */
        MEMORY,
        /** in Redis ({@code spring.data.redis.*}): limits hold across all replicas */
        REDIS
    }

    /**
     * @param store     memory (default) or redis
     * @param keyPrefix prefix of the Redis keys
     */
    public record RateLimit(Store store, String keyPrefix) {
        public RateLimit {
            store = store == null ? Store.MEMORY : store;
            keyPrefix = keyPrefix == null ? "llm-gateway:" : keyPrefix;
        }
    }
}
