package dev.llmplatform.gateway.api;

import dev.llmplatform.gateway.metrics.GatewayMetrics;
import java.net.ConnectException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.annotation.Order;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ResponseStatusException;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebExceptionHandler;
import reactor.core.publisher.Mono;

/**
 * Every failure the gateway answers becomes OpenAI's error JSON (before Boot's own handler, which would write its
 * whitelabel shape): the gateway's own refusals, unknown URLs, and instances that could not be reached or timed out.
 */
@Component
@Order(-2)
public class OpenAiErrorHandler implements WebExceptionHandler {
    private static final Logger log = LoggerFactory.getLogger(OpenAiErrorHandler.class);

    private final GatewayMetrics metrics;

    public OpenAiErrorHandler(GatewayMetrics metrics) {
        this.metrics = metrics;
    }

    @Override
    public Mono<Void> handle(ServerWebExchange exchange, Throwable ex) {
        ServerHttpResponse response = exchange.getResponse();
        if (response.isCommitted()) {
            return Mono.error(ex);
        }
        GatewayException e = translate(exchange, ex);
        metrics.rejected(e.code());
        response.setStatusCode(e.status());
        response.getHeaders().clear();
        response.getHeaders().setContentType(MediaType.APPLICATION_JSON);
        if (e.retryAfterSeconds() > 0) {
            response.getHeaders().set("Retry-After", Long.toString(e.retryAfterSeconds()));
        }
        DataBuffer body = response.bufferFactory().wrap(OpenAiError.json(e.getMessage(), e.type(), e.code(), e.param()));
        return response.writeWith(Mono.just(body));
    }

    static GatewayException translate(ServerWebExchange exchange, Throwable ex) {
        if (ex instanceof GatewayException g) {
            return g;
        }
        if (isTimeout(ex)) {
            return new GatewayException(HttpStatus.GATEWAY_TIMEOUT, "server_error", "upstream_timeout", null,
                    "No instance answered in time.", 0);
        }
        if (ex instanceof ResponseStatusException rse) {
            HttpStatusCode s = rse.getStatusCode();
            if (s.value() == 404 || s.value() == 405) {
                var req = exchange.getRequest();
                return new GatewayException(HttpStatus.NOT_FOUND, "invalid_request_error", "unknown_url", null,
                        "Unknown request URL: " + req.getMethod() + " " + req.getPath().value() + ".", 0);
            }
            if (s.value() == 413) {
                return GatewayException.tooLarge(-1);
            }
            if (s.is4xxClientError()) {
                return new GatewayException(HttpStatus.valueOf(s.value()), "invalid_request_error", "invalid_request",
                        null, rse.getReason() == null ? "Invalid request." : rse.getReason(), 0);
            }
        }
        if (isConnectFailure(ex)) {
            return new GatewayException(HttpStatus.BAD_GATEWAY, "server_error", "upstream_unavailable", null,
                    "No instance could be reached.", 1);
        }
        log.warn("Unexpected failure on {} {}", exchange.getRequest().getMethod(), exchange.getRequest().getPath(), ex);
        return new GatewayException(HttpStatus.INTERNAL_SERVER_ERROR, "server_error", "internal_error", null,
                "The gateway failed to handle the request.", 0);
    }

    /** The first-byte timeout (Spring Cloud Gateway raises it as a 504 status or its own TimeoutException). */
    public static boolean isTimeout(Throwable ex) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (t instanceof org.springframework.cloud.gateway.support.TimeoutException
                    || t instanceof java.util.concurrent.TimeoutException
                    || t instanceof io.netty.handler.timeout.ReadTimeoutException
                    || (t instanceof ResponseStatusException r && r.getStatusCode().value() == 504)) {
                return true;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return false;
    }

    /** Could not connect, or the connection broke before the response started. */
    public static boolean isConnectFailure(Throwable ex) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (t instanceof ConnectException || t instanceof io.netty.channel.ConnectTimeoutException
                    || t instanceof reactor.netty.http.client.PrematureCloseException
                    || t instanceof java.nio.channels.ClosedChannelException
                    || t instanceof java.io.IOException) {
                return true;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return false;
    }
}
