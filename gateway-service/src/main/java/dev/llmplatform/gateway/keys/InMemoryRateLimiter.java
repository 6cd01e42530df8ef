package dev.llmplatform.gateway.keys;

import java.time.Clock;
import java.util.concurrent.ConcurrentHashMap;
import reactor.core.publisher.Mono;

/**
 * Counts in this process: correct for one gateway replica; with N replicas a key gets up to N times its limits.
 * The default, so that a gateway runs without Redis.
 */
public class InMemoryRateLimiter implements RateLimiter {
    private final Clock clock;
    private final ConcurrentHashMap<String, Window> windows = new ConcurrentHashMap<>();

    public InMemoryRateLimiter(Clock clock) {
        this.clock = clock;
    }

    /** One key's counts in one minute. */
    private static final class Window {
        long minute;
        long requests;
        long tokens;
    }

    @Override
    public Mono<Decision> admit(Caller caller, long promptTokens) {
        long now = clock.millis();
        Window w = windows.computeIfAbsent(caller.name(), k -> new Window());
        synchronized (w) {
            roll(w, now);
            if (caller.requestsPerMinute() > 0 && w.requests >= caller.requestsPerMinute()) {
                return Mono.just(new Decision(false, "requests_per_minute", RateLimiter.secondsLeftInWindow(now)));
            }
            if (caller.tokensPerMinute() > 0 && w.tokens >= caller.tokensPerMinute()) {
                return Mono.just(new Decision(false, "tokens_per_minute", RateLimiter.secondsLeftInWindow(now)));
            }
            w.requests++;
            w.tokens += promptTokens;
        }
        return Mono.just(Decision.ALLOWED);
    }

    @Override
    public Mono<Void> addTokens(Caller caller, long tokens) {
        long now = clock.millis();
        Window w = windows.computeIfAbsent(caller.name(), k -> new Window());
        synchronized (w) {
            roll(w, now);
            w.tokens += tokens;
        }
        return Mono.empty();
    }

    private static void roll(Window w, long now) {
        long minute = now / 60_000;
        if (w.minute != minute) {
            w.minute = minute;
            w.requests = 0;
            w.tokens = 0;
        }
    }
}
