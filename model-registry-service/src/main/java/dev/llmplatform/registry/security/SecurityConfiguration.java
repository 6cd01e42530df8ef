package dev.llmplatform.registry.security;

import dev.llmplatform.registry.config.RegistryProperties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import tools.jackson.databind.json.JsonMapper;

/** Puts the token check in front of the API (OpenAPI docs and health stay open). */
@Configuration(proxyBeanMethods = false)
class SecurityConfiguration {
    private static final Logger log = LoggerFactory.getLogger(SecurityConfiguration.class);

    @Bean
    FilterRegistrationBean<TokenAuthenticationFilter> tokenAuthentication(TokenRegistry tokens, RegistryProperties properties,
                                                                          JsonMapper json) {
        if (!tokens.hasAdminTokens()) {
            log.warn("no admin tokens configured (llm.registry.security.admin-tokens): this registry is read-only");
        }
        FilterRegistrationBean<TokenAuthenticationFilter> bean =
                new FilterRegistrationBean<>(new TokenAuthenticationFilter(tokens, properties, json));
        bean.addUrlPatterns("/v1/*");
        bean.setOrder(Ordered.HIGHEST_PRECEDENCE + 10);
        return bean;
    }
}
