package dev.llmplatform.gateway.keys;

import dev.llmplatform.gateway.config.GatewayProperties;
import java.time.Clock;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;

/** The rate limiter's store, as {@code llm.gateway.rate-limit.store} says. */
@Configuration(proxyBeanMethods = false)
public class RateLimiterConfiguration {

    @Bean
    RateLimiter rateLimiter(GatewayProperties props, ObjectProvider<ReactiveStringRedisTemplate> redis) {
        Clock clock = Clock.systemUTC();
        return switch (props.rateLimit().store()) {
            case MEMORY -> new InMemoryRateLimiter(clock);
            case REDIS -> new RedisRateLimiter(redis.getObject(), props.rateLimit().keyPrefix(), clock);
        };
    }
}
