package dev.llmplatform.gateway.proxy;

import static org.springframework.cloud.gateway.support.RouteMetadataUtils.CONNECT_TIMEOUT_ATTR;
import static org.springframework.cloud.gateway.support.RouteMetadataUtils.RESPONSE_TIMEOUT_ATTR;

import dev.llmplatform.gateway.config.GatewayProperties;
import org.springframework.cloud.gateway.filter.headers.HttpHeadersFilter;
import org.springframework.cloud.gateway.route.RouteLocator;
import org.springframework.cloud.gateway.route.builder.RouteLocatorBuilder;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.HttpMethod;

/**
 * The two routes (their ids tag the metrics): {@code chat_completions} and {@code completions}. Their URI is a
 * placeholder: {@link ModelRoutingFilter} replaces it with the chosen instance. The connect and first-byte timeouts
 * ride on the routes' metadata, where Spring Cloud Gateway's Netty routing filter applies them. Also the filters
 * that keep internal headers from crossing the gateway.
 */
@Configuration(proxyBeanMethods = false)
public class GatewayRoutes {
    /** Never contacted: every request gets an instance's URL before it is sent. */
    static final String PLACEHOLDER = "http://inference-instance.invalid";

    @Bean
    RouteLocator inferenceRoutes(RouteLocatorBuilder builder, GatewayProperties props) {
        int connectMillis = (int) props.upstream().connectTimeout().toMillis();
        long firstByteMillis = props.upstream().firstByteTimeout().toMillis();
        return builder.routes()
                .route("chat_completions", r -> r.path("/v1/chat/completions").and().method(HttpMethod.POST)
                        .metadata(CONNECT_TIMEOUT_ATTR, connectMillis)
                        .metadata(RESPONSE_TIMEOUT_ATTR, firstByteMillis)
                        .uri(PLACEHOLDER))
                .route("completions", r -> r.path("/v1/completions").and().method(HttpMethod.POST)
                        .metadata(CONNECT_TIMEOUT_ATTR, connectMillis)
                        .metadata(RESPONSE_TIMEOUT_ATTR, firstByteMillis)
                        .uri(PLACEHOLDER))
                .build();
    }

    @Bean
    InternalHeadersFilter internalRequestHeaders(GatewayProperties props) {
        return new InternalHeadersFilter(props.stripRequestHeaders(), HttpHeadersFilter.Type.REQUEST);
    }

    @Bean
    InternalHeadersFilter internalResponseHeaders(GatewayProperties props) {
        return new InternalHeadersFilter(props.stripResponseHeaders(), HttpHeadersFilter.Type.RESPONSE);
    }
}
