package dev.llmplatform.registry.api;

import io.swagger.v3.oas.models.Components;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.security.SecurityRequirement;
import io.swagger.v3.oas.models.security.SecurityScheme;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The OpenAPI document's title, description and bearer-token scheme (served at /v3/api-docs by springdoc). */
@Configuration(proxyBeanMethods = false)
class OpenApiConfiguration {
    @Bean
    OpenAPI registryOpenApi() {
        return new OpenAPI()
                .info(new Info().title("LLM platform model registry").version("v1")
                        .description("Immutable engine versions (files + engine manifest), verified uploads and downloads, "
                                + "and rollouts (stable, canary, traffic percent). Errors are RFC 9457 problem details."))
                .components(new Components().addSecuritySchemes("bearer",
                        new SecurityScheme().type(SecurityScheme.Type.HTTP).scheme("bearer")
                                .description("Admin tokens may write; read tokens (or none, if anonymous reads are on) may read.")))
                .addSecurityItem(new SecurityRequirement().addList("bearer"));
    }
}
