package dev.llmplatform.gateway.api;

import dev.llmplatform.gateway.fleet.Fleet;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.MediaType;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Mono;

/**
 * {@code GET /v1/models} and {@code GET /v1/models/{model}}: what the fleet serves now (the models of the instances in
 * rotation), in OpenAI's list format, answered by the gateway itself.
 */
@Configuration(proxyBeanMethods = false)
public class ModelsHandler {
    private final long startedAt = System.currentTimeMillis() / 1000;

    @Bean
    RouterFunction<ServerResponse> modelRoutes(Fleet fleet) {
        return RouterFunctions.route()
                .GET("/v1/models", req -> {
                    List<Map<String, Object>> data = new ArrayList<>();
                    for (String m : fleet.models()) {
                        data.add(model(m));
                    }
                    return ServerResponse.ok().contentType(MediaType.APPLICATION_JSON)
                            .bodyValue(Map.of("object", "list", "data", data));
                })
                .GET("/v1/models/{model}", req -> {
                    String m = req.pathVariable("model");
                    if (!fleet.models().contains(m)) {
                        return Mono.error(GatewayException.modelNotFound(m));
                    }
                    return ServerResponse.ok().contentType(MediaType.APPLICATION_JSON).bodyValue(model(m));
                })
                .build();
    }

    private Map<String, Object> model(String name) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", name);
        m.put("object", "model");
        m.put("created", startedAt);
        m.put("owned_by", "llm-platform");
        return m;
    }
}
