package dev.llmplatform.gateway.proxy;

import dev.llmplatform.gateway.api.InferenceRequest;
import dev.llmplatform.gateway.api.OpenAiError;
import dev.llmplatform.gateway.config.GatewayProperties;
import dev.llmplatform.gateway.keys.Caller;
import dev.llmplatform.gateway.keys.RateLimiter;
import dev.llmplatform.gateway.metrics.GatewayMetrics;
import java.time.Duration;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.cloud.gateway.filter.GatewayFilterChain;
import org.springframework.cloud.gateway.filter.GlobalFilter;
import org.springframework.cloud.gateway.filter.NettyWriteResponseFilter;
import org.springframework.core.Ordered;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpResponseDecorator;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Watches a completion's response on its way to the client without holding it back: each chunk is passed on (and,
 * for server-sent events, flushed by Spring Cloud Gateway) as it arrives. On the way it notes the time to first byte,
 * counts generated tokens for the caller's token limit, and ends the attempt ({@link UpstreamCall#finish}) when the
 * body completes, breaks or the client leaves (cancelling the body closes the connection to the instance, which
 * cancels the generation there). A stream the instance breaks, or leaves silent for {@code stream-idle-timeout}, ends
 * with an OpenAI error event and {@code [DONE]} instead of a cut connection.
 */
@Component
public class ResponseGuardFilter implements GlobalFilter, Ordered {
    private static final Logger log = LoggerFactory.getLogger(ResponseGuardFilter.class);
    /** Generated tokens are added to the caller's count in batches of this many (and at the end). */
    private static final long TOKEN_FLUSH = 32;

    private final GatewayMetrics metrics;
    private final RateLimiter limiter;
    private final Duration idleTimeout;

    public ResponseGuardFilter(GatewayMetrics metrics, RateLimiter limiter, GatewayProperties props) {
        this.metrics = metrics;
        this.limiter = limiter;
        this.idleTimeout = props.upstream().streamIdleTimeout();
    }

    @Override
    public int getOrder() {
        return NettyWriteResponseFilter.WRITE_RESPONSE_FILTER_ORDER - 1;
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, GatewayFilterChain chain) {
        if (exchange.getAttribute(InferenceRequest.ATTR) == null) {
            return chain.filter(exchange);
        }
        Caller caller = exchange.getAttributeOrDefault(Caller.ATTR, Caller.ANONYMOUS);
        Guard guard = new Guard(exchange, caller, System.nanoTime());
        return chain.filter(exchange.mutate().response(guard).build());
    }

    /** The decorated response of one request. */
    private final class Guard extends ServerHttpResponseDecorator {
        private final ServerWebExchange exchange;
        private final Caller caller;
        private final long arrived;
        private final GeneratedTokenCounter tokens = new GeneratedTokenCounter();
        private boolean firstByteSeen;
        private long tokensFlushed;

        Guard(ServerWebExchange exchange, Caller caller, long arrived) {
            super(exchange.getResponse());
            this.exchange = exchange;
            this.caller = caller;
            this.arrived = arrived;
        }

        @Override
        public Mono<Void> writeWith(Publisher<? extends DataBuffer> body) {
            UpstreamCall call = exchange.getAttribute(UpstreamCall.ATTR);
            if (call == null) {
                return super.writeWith(body);
            }
            return super.writeWith(Flux.from(body)
                    .doOnNext(b -> observe(call, b))
                    .doOnError(e -> end(call, UpstreamCall.Outcome.BROKEN, e))
                    .doOnComplete(() -> end(call, outcome(), null))
                    .doOnCancel(() -> end(call, UpstreamCall.Outcome.CANCELLED, null)));
        }

        @Override
        public Mono<Void> writeAndFlushWith(Publisher<? extends Publisher<? extends DataBuffer>> body) {
            UpstreamCall call = exchange.getAttribute(UpstreamCall.ATTR);
            if (call == null) {
                return super.writeAndFlushWith(body);
            }
            boolean sse = MediaType.TEXT_EVENT_STREAM.isCompatibleWith(getHeaders().getContentType());
            Flux<Publisher<DataBuffer>> guarded = Flux.from(body)
                    .timeout(idleTimeout)
                    .<Publisher<DataBuffer>>map(chunk -> Flux.from(chunk).map(b -> {
                        observe(call, b);
                        return (DataBuffer) b;
                    }))
                    .onErrorResume(e -> {
                        end(call, UpstreamCall.Outcome.BROKEN, e);
                        if (!sse) {
                            return Flux.error(e);
                        }
                        log.warn("Instance {} broke a stream of {} ({}); ending it with an error event", call.instance,
                                call.model, e instanceof TimeoutException ? "silent for " + idleTimeout : e.toString());
                        String message = e instanceof TimeoutException
                                ? "The instance serving this stream stopped responding."
                                : "The instance serving this stream failed.";
                        DataBuffer event = bufferFactory().wrap(OpenAiError.sseEvent(message, "server_error",
                                "upstream_stream_broken"));
                        return Flux.just(Flux.just(event));
                    })
                    .doOnComplete(() -> end(call, outcome(), null))
                    .doOnCancel(() -> end(call, UpstreamCall.Outcome.CANCELLED, null));
            return super.writeAndFlushWith(guarded);
        }

        private void observe(UpstreamCall call, DataBuffer b) {
            if (!firstByteSeen) {
                firstByteSeen = true;
                metrics.firstByte(call.route, call.instance.id(), System.nanoTime() - arrived);
            }
            for (int i = b.readPosition(), end = b.writePosition(); i < end; i++) {
                tokens.accept(b.getByte(i));
            }
            if (caller.limited() && tokens.tokens() - tokensFlushed >= TOKEN_FLUSH) {
                flushTokens();
            }
        }

        private UpstreamCall.Outcome outcome() {
            HttpStatusCode s = getStatusCode();
            return UpstreamCall.outcomeOf(s == null ? 200 : s.value());
        }

        private void end(UpstreamCall call, UpstreamCall.Outcome outcome, Throwable cause) {
            call.finish(outcome, cause);
            if (caller.limited()) {
                flushTokens();
            }
        }

        private void flushTokens() {
            long n = tokens.tokens() - tokensFlushed;
            if (n <= 0) {
                return;
            }
            tokensFlushed += n;
            limiter.addTokens(caller, n).subscribe(null,
                    e -> log.warn("Could not count {} tokens of '{}': {}", n, caller.name(), e.toString()));
        }
    }
}
