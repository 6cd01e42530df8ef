package dev.llmplatform.gateway.api;

import dev.llmplatform.gateway.config.GatewayProperties;
import org.springframework.core.Ordered;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.HttpMethod;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Reads the body of completion requests (at most {@code llm.gateway.max-request-size}: 413 beyond), parses it for the
 * {@link InferenceRequest} the routing needs (400 for malformed JSON or a missing model), and hands the same bytes on,
 * replayable, so that a retry on another instance sends them again.
 */
@Component
public class RequestBodyFilter implements WebFilter, Ordered {
    /** After the API key check (an unauthenticated client gets 401 before its body is read). */
    public static final int ORDER = FilterOrder.AFTER_AUTH;

    private final JsonMapper json;
    private final long maxBytes;
    private final int leadingChars;

    public RequestBodyFilter(GatewayProperties props) {
        this.json = JsonMapper.builder().build();
        this.maxBytes = props.maxRequestSize().toBytes();
        this.leadingChars = props.balancer().prefixChars();
    }

    @Override
    public int getOrder() {
        return ORDER;
    }

    /** The paths whose bodies name a model. */
    public static boolean isCompletion(ServerHttpRequest request) {
        String path = request.getPath().value();
        return request.getMethod() == HttpMethod.POST
                && (path.equals("/v1/chat/completions") || path.equals("/v1/completions"));
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        ServerHttpRequest request = exchange.getRequest();
        if (!isCompletion(request)) {
            return chain.filter(exchange);
        }
        long declared = request.getHeaders().getContentLength();
        if (declared > maxBytes) {
            return Mono.error(GatewayException.tooLarge(maxBytes));
        }
        return DataBufferUtils.join(request.getBody(), (int) Math.min(Integer.MAX_VALUE - 8, maxBytes))
                .onErrorMap(DataBufferLimitException.class, e -> GatewayException.tooLarge(maxBytes))
                .map(buffer -> {
                    byte[] bytes = new byte[buffer.readableByteCount()];
                    buffer.read(bytes);
                    DataBufferUtils.release(buffer);
                    return bytes;
                })
                .defaultIfEmpty(new byte[0])
                .flatMap(bytes -> {
                    InferenceRequest parsed = InferenceRequest.of(parse(bytes), bytes, leadingChars);
                    exchange.getAttributes().put(InferenceRequest.ATTR, parsed);
                    ServerHttpRequest replayable = new ServerHttpRequestDecorator(request) {
                        @Override
                        public Flux<DataBuffer> getBody() {
                            // A fresh buffer per subscription: each attempt (retry) sends the whole body.
                            return Flux.defer(() -> Flux.just(exchange.getResponse().bufferFactory().wrap(bytes)));
                        }
                    };
                    return chain.filter(exchange.mutate().request(replayable).build());
                });
    }

    private JsonNode parse(byte[] bytes) {
        if (bytes.length == 0) {
            throw GatewayException.invalidRequest("invalid_json", null, "The request body is empty; expected JSON.");
        }
        try {
            return json.readTree(bytes);
        } catch (JacksonException e) {
            throw GatewayException.invalidRequest("invalid_json", null,
                    "The request body is not valid JSON: " + e.getOriginalMessage());
        }
    }
}
