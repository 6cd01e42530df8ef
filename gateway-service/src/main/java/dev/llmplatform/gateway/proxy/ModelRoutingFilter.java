package dev.llmplatform.gateway.proxy;

import static org.springframework.cloud.gateway.support.ServerWebExchangeUtils.CLIENT_RESPONSE_ATTR;
import static org.springframework.cloud.gateway.support.ServerWebExchangeUtils.CLIENT_RESPONSE_CONN_ATTR;
import static org.springframework.cloud.gateway.support.ServerWebExchangeUtils.GATEWAY_REQUEST_URL_ATTR;
import static org.springframework.cloud.gateway.support.ServerWebExchangeUtils.GATEWAY_ROUTE_ATTR;

import dev.llmplatform.gateway.api.GatewayException;
import dev.llmplatform.gateway.api.InferenceRequest;
import dev.llmplatform.gateway.api.OpenAiErrorHandler;
import dev.llmplatform.gateway.config.GatewayProperties;
import dev.llmplatform.gateway.fleet.Instance;
import dev.llmplatform.gateway.fleet.InstanceBreakers;
import dev.llmplatform.gateway.keys.Caller;
import dev.llmplatform.gateway.metrics.GatewayMetrics;
import dev.llmplatform.gateway.routing.InstanceChooser;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.net.URI;
import java.util.HashSet;
import java.util.Set;
import org.springframework.cloud.gateway.filter.GatewayFilterChain;
import org.springframework.cloud.gateway.filter.GlobalFilter;
import org.springframework.cloud.gateway.filter.RouteToRequestUrlFilter;
import org.springframework.cloud.gateway.route.Route;
import org.springframework.cloud.gateway.support.ServerWebExchangeUtils;
import org.springframework.core.Ordered;
import org.springframework.http.HttpStatusCode;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.util.UriComponentsBuilder;
import reactor.core.publisher.Mono;
import reactor.netty.Connection;

/**
 * Sends a completion request to the instance {@link InstanceChooser} picks, and to another one when the attempt fails
 * before anything reached the client: the instance could not be reached, did not start answering within the
 * first-byte timeout, or answered 429/502/503/504 (busy, not ready). Runs right after Spring Cloud Gateway has set the
 * route's URL and before its Netty routing filter sends the request; that filter completes when the response headers
 * have arrived, which is where an attempt can still be abandoned (the body is written afterwards, by
 * {@link ResponseGuardFilter}'s decorated response).
 */
@Component
public class ModelRoutingFilter implements GlobalFilter, Ordered {
    public static final int ORDER = RouteToRequestUrlFilter.ROUTE_TO_URL_FILTER_ORDER + 1;

    private final InstanceChooser chooser;
    private final InstanceBreakers breakers;
    private final GatewayMetrics metrics;
    private final int maxAttempts;

    public ModelRoutingFilter(InstanceChooser chooser, InstanceBreakers breakers, GatewayMetrics metrics,
                              GatewayProperties props) {
        this.chooser = chooser;
        this.breakers = breakers;
        this.metrics = metrics;
        this.maxAttempts = props.upstream().maxAttempts();
    }

    @Override
    public int getOrder() {
        return ORDER;
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, GatewayFilterChain chain) {
        InferenceRequest request = exchange.getAttribute(InferenceRequest.ATTR);
        if (request == null) {
            return chain.filter(exchange);
        }
        Caller caller = exchange.getAttributeOrDefault(Caller.ATTR, Caller.ANONYMOUS);
        String sticky = request.user() == null ? caller.name() : caller.name() + "/" + request.user();
        Route route = exchange.getAttribute(GATEWAY_ROUTE_ATTR);
        Attempts attempts = new Attempts(request, sticky, route == null ? "unknown" : route.getId());
        return Mono.defer(() -> attempt(exchange, chain, attempts, null))
                .doOnCancel(() -> finishCurrent(exchange, UpstreamCall.Outcome.CANCELLED, null));
    }

    /** The state of one request's attempts. */
    private record Attempts(InferenceRequest request, String stickyKey, String route, Set<Instance> tried) {
        Attempts(InferenceRequest request, String stickyKey, String route) {
            this(request, stickyKey, route, new HashSet<>());
        }
    }

    private Mono<Void> attempt(ServerWebExchange exchange, GatewayFilterChain chain, Attempts a, Throwable previous) {
        Instance instance;
        CircuitBreaker breaker;
        try {
            while (true) {
                instance = chooser.choose(a.request().model(), a.stickyKey(), a.request().leadingPrompt(), a.tried());
                breaker = breakers.of(instance);
                if (breaker.tryAcquirePermission()) {
                    break;
                }
                a.tried().add(instance);  // half-open with no probe permit left: not a candidate for this request
            }
        } catch (GatewayException e) {
            // Nothing left to try: the client learns why the last attempt failed, not that the fleet ran out.
            return Mono.error(previous != null && e.status().is5xxServerError() ? previous : e);
        }
        a.tried().add(instance);
        String instanceId = instance.id();
        UpstreamCall call = new UpstreamCall(instance, breaker, a.route(), a.request().model(), metrics);
        exchange.getAttributes().put(UpstreamCall.ATTR, call);
        URI target = UriComponentsBuilder.fromUri(instance.baseUrl())
                .path(exchange.getRequest().getPath().value())
                .query(exchange.getRequest().getURI().getRawQuery())
                .build(true).toUri();
        exchange.getAttributes().put(GATEWAY_REQUEST_URL_ATTR, target);
        ServerWebExchangeUtils.removeAlreadyRouted(exchange);
        return chain.filter(exchange)
                .then(Mono.defer(() -> {
                    HttpStatusCode status = exchange.getResponse().getStatusCode();
                    if (status != null && retryableStatus(status.value()) && a.tried().size() < maxAttempts) {
                        abandon(exchange);
                        call.finish(status.value() == 429 ? UpstreamCall.Outcome.RETRIED
                                : UpstreamCall.Outcome.UPSTREAM_ERROR, null);
                        metrics.retry(a.route(), instanceId, "status_" + status.value());
                        return attempt(exchange, chain, a, null);
                    }
                    return Mono.<Void>empty();
                }))
                .onErrorResume(e -> {
                    if (exchange.getResponse().isCommitted()) {
                        return Mono.error(e);
                    }
                    boolean timeout = OpenAiErrorHandler.isTimeout(e);
                    boolean unreachable = !timeout && OpenAiErrorHandler.isConnectFailure(e);
                    call.finish(timeout ? UpstreamCall.Outcome.TIMEOUT
                            : unreachable ? UpstreamCall.Outcome.UNREACHABLE : UpstreamCall.Outcome.BROKEN, e);
                    abandon(exchange);
                    if ((timeout || unreachable) && a.tried().size() < maxAttempts) {
                        metrics.retry(a.route(), instanceId, timeout ? "timeout" : "unreachable");
                        return attempt(exchange, chain, a, e);
                    }
                    return Mono.error(e);
                });
    }

    private static boolean retryableStatus(int status) {
        return status == 429 || status == 502 || status == 503 || status == 504;
    }

    /** Drops what a failed attempt left: its connection, its answer's status and headers. */
    private static void abandon(ServerWebExchange exchange) {
        Connection connection = exchange.getAttribute(CLIENT_RESPONSE_CONN_ATTR);
        if (connection != null) {
            connection.dispose();
        }
        exchange.getAttributes().remove(CLIENT_RESPONSE_CONN_ATTR);
        exchange.getAttributes().remove(CLIENT_RESPONSE_ATTR);
        exchange.getResponse().setStatusCode(null);
        exchange.getResponse().getHeaders().clear();
    }

    private static void finishCurrent(ServerWebExchange exchange, UpstreamCall.Outcome outcome, Throwable cause) {
        UpstreamCall call = exchange.getAttribute(UpstreamCall.ATTR);
        if (call != null) {
            call.finish(outcome, cause);
        }
    }
}
