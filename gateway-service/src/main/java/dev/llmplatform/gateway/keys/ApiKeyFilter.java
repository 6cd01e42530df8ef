package dev.llmplatform.gateway.keys;

import dev.llmplatform.gateway.api.FilterOrder;
import dev.llmplatform.gateway.api.GatewayException;
import org.springframework.core.Ordered;
import org.springframework.http.HttpHeaders;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;

/**
 * Checks {@code Authorization: Bearer <key>} (or {@code X-Api-Key}) on the API ({@code /v1/**}): 401 in OpenAI's
 * format without a known key, when keys are required. Actuator endpoints are not behind keys (they are for the
 * platform, on a port or network of their own in production).
 */
@Component
public class ApiKeyFilter implements WebFilter, Ordered {
    private final ApiKeys keys;

    public ApiKeyFilter(ApiKeys keys) {
        this.keys = keys;
    }

    @Override
    public int getOrder() {
        return FilterOrder.AUTH;
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        if (!exchange.getRequest().getPath().value().startsWith("/v1/")) {
            return chain.filter(exchange);
        }
        String presented = presentedKey(exchange.getRequest().getHeaders());
        Caller caller;
        if (presented != null) {
            caller = keys.find(presented).orElse(null);
            if (caller == null && keys.required()) {
                return Mono.error(GatewayException.unauthorized("Incorrect API key provided."));
            }
        } else if (keys.required()) {
            return Mono.error(GatewayException.unauthorized(
                    "You didn't provide an API key: send it as 'Authorization: Bearer YOUR_KEY'."));
        } else {
            caller = null;
        }
        exchange.getAttributes().put(Caller.ATTR, caller == null ? Caller.ANONYMOUS : caller);
        return chain.filter(exchange);
    }

    static String presentedKey(HttpHeaders headers) {
        String auth = headers.getFirst(HttpHeaders.AUTHORIZATION);
        if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
            String key = auth.substring(7).trim();
            return key.isEmpty() ? null : key;
        }
        String apiKey = headers.getFirst("X-Api-Key");
        return apiKey == null || apiKey.isBlank() ? null : apiKey.trim();
    }
}
