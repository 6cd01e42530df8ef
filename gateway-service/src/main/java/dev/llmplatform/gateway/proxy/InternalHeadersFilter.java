package dev.llmplatform.gateway.proxy;

import java.util.List;
import org.springframework.cloud.gateway.filter.headers.HttpHeadersFilter;
import org.springframework.http.HttpHeaders;
import org.springframework.web.server.ServerWebExchange;

/**
 * Removes headers that must not cross the gateway in one direction: the client's credentials on the way in
 * ({@code strip-request-headers}: the API key is the gateway's business, not the instance's), and
 * {@code strip-response-headers} on the way out. Hop-by-hop headers are removed by Spring Cloud Gateway's own
 * {@code RemoveHopByHopHeadersFilter}.
 */
public class InternalHeadersFilter implements HttpHeadersFilter {
    private final List<String> names;
    private final Type direction;

    public InternalHeadersFilter(List<String> names, Type direction) {
        this.names = names;
        this.direction = direction;
    }

    @Override
    public boolean supports(Type type) {
        return type == direction;
    }

    @Override
    public HttpHeaders filter(HttpHeaders input, ServerWebExchange exchange) {
        boolean any = false;
        for (String n : names) {
            any |= input.containsHeader(n);
        }
        if (!any) {
            return input;
        }
        HttpHeaders out = new HttpHeaders();
        input.forEach((name, values) -> {
            for (String n : names) {
                if (n.equalsIgnoreCase(name)) {
                    return;
                }
            }
            out.put(name, values);
        });
        return out;
    }
}
