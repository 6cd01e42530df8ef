package dev.llmplatform.inference.api;

import static org.springframework.web.reactive.function.server.RequestPredicates.path;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerResponse;

/** The OpenAI API's routes; anything else under /v1 gets an OpenAI-shaped 404 (or 405). */
@Configuration(proxyBeanMethods = false)
public class OpenAiRoutes {

    @Bean
    public RouterFunction<ServerResponse> openAiApi(OpenAiHandler handler) {
        return RouterFunctions.route()
                .POST("/v1/chat/completions", handler::chatCompletions)
                .POST("/v1/completions", handler::completions)
                .GET("/v1/models", handler::models)
                .GET("/v1/models/{id}", handler::model)
                .route(path("/v1/**"), handler::unknown)
                .build();
    }
}
