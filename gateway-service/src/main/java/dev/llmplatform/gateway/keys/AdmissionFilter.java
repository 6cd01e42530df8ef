package dev.llmplatform.gateway.keys;

import dev.llmplatform.gateway.api.FilterOrder;
import dev.llmplatform.gateway.api.GatewayException;
import dev.llmplatform.gateway.api.InferenceRequest;
import dev.llmplatform.gateway.metrics.GatewayMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.Ordered;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;

/**
 * Admits a completion request against its key's per-minute limits (429 with {@code Retry-After} beyond them). When
 * the counter store fails the request is admitted (fail open: a Redis outage must not stop the fleet), and counted in
 * {@code llm_gateway_rate_limit_store_errors_total}.
 */
@Component
public class AdmissionFilter implements WebFilter, Ordered {
    private static final Logger log = LoggerFactory.getLogger(AdmissionFilter.class);

    private final RateLimiter limiter;
    private final GatewayMetrics metrics;

    public AdmissionFilter(RateLimiter limiter, GatewayMetrics metrics) {
        this.limiter = limiter;
        this.metrics = metrics;
    }

    @Override
    public int getOrder() {
        return FilterOrder.ADMISSION;
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        InferenceRequest request = exchange.getAttribute(InferenceRequest.ATTR);
        Caller caller = exchange.getAttribute(Caller.ATTR);
        if (request == null || caller == null || !caller.limited()) {
            return chain.filter(exchange);
        }
        return limiter.admit(caller, request.promptTokens())
                .onErrorResume(e -> {
                    metrics.rateLimitStoreError();
                    log.warn("Rate limit store failed, admitting the request of '{}': {}", caller.name(), e.toString());
                    return Mono.just(RateLimiter.Decision.ALLOWED);
                })
                .flatMap(d -> {
                    if (!d.allowed()) {
                        metrics.rateLimited(caller.name(), d.limit());
                        return Mono.error(GatewayException.rateLimited(d.limit() + " of key '" + caller.name() + "'",
                                d.retryAfterSeconds()));
                    }
                    return chain.filter(exchange);
                });
    }
}
