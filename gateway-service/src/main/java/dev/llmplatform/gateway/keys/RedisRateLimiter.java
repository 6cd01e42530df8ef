package dev.llmplatform.gateway.keys;

import java.time.Clock;
import java.util.List;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.data.redis.core.script.RedisScript;
import reactor.core.publisher.Mono;

/**
 * Counts in Redis, so that every gateway replica enforces the same limits. Admission is one Lua script (check both
 * limits, then count: atomic, one round trip); the counters of a window expire two minutes after it starts.
 */
public class RedisRateLimiter implements RateLimiter {
    // KEYS: requests counter, tokens counter. ARGV: requests/min, tokens/min (0 = none), prompt tokens, ttl seconds.
    // Returns 0 when admitted, 1 when refused by the request limit, 2 by the token limit.
    private static final RedisScript<Long> ADMIT = RedisScript.of("""
            local r = tonumber(redis.call('GET', KEYS[1]) or '0')
            local t = tonumber(redis.call('GET', KEYS[2]) or '0')
            if tonumber(ARGV[1]) > 0 and r >= tonumber(ARGV[1]) then return 1 end
            if tonumber(ARGV[2]) > 0 and t >= tonumber(ARGV[2]) then return 2 end
            redis.call('INCR', KEYS[1])
            redis.call('EXPIRE', KEYS[1], ARGV[4])
            redis.call('INCRBY', KEYS[2], ARGV[3])
            redis.call('EXPIRE', KEYS[2], ARGV[4])
            return 0
            """, Long.class);
    private static final RedisScript<Long> ADD = RedisScript.of("""
            local t = redis.call('INCRBY', KEYS[1], ARGV[1])
            redis.call('EXPIRE', KEYS[1], ARGV[2])
            return t
            """, Long.class);
    private static final String TTL_SECONDS = "120";

    private final ReactiveStringRedisTemplate redis;
    private final String prefix;
    private final Clock clock;

    public RedisRateLimiter(ReactiveStringRedisTemplate redis, String prefix, Clock clock) {
        this.redis = redis;
        this.prefix = prefix;
        this.clock = clock;
    }

    @Override
    public Mono<Decision> admit(Caller caller, long promptTokens) {
        long now = clock.millis();
        String base = base(caller, now);
        return redis.execute(ADMIT, List.of(base + ":requests", base + ":tokens"),
                        List.of(Long.toString(caller.requestsPerMinute()), Long.toString(caller.tokensPerMinute()),
                                Long.toString(promptTokens), TTL_SECONDS))
                .next()
                .map(code -> switch (code.intValue()) {
                    case 0 -> Decision.ALLOWED;
                    case 1 -> new Decision(false, "requests_per_minute", RateLimiter.secondsLeftInWindow(now));
                    default -> new Decision(false, "tokens_per_minute", RateLimiter.secondsLeftInWindow(now));
                });
    }

    @Override
    public Mono<Void> addTokens(Caller caller, long tokens) {
        String base = base(caller, clock.millis());
        return redis.execute(ADD, List.of(base + ":tokens"), List.of(Long.toString(tokens), TTL_SECONDS)).then();
    }

    /** {@code <prefix>{<key name>}:<minute>}: the braces keep one key's counters on one Redis Cluster slot. */
    private String base(Caller caller, long now) {
        return prefix + "{" + caller.name() + "}:" + (now / 60_000);
    }
}
