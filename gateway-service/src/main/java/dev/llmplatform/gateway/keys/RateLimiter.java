package dev.llmplatform.gateway.keys;

import reactor.core.publisher.Mono;

/**
 * Per-key request and token counts over fixed one-minute windows (aligned to the clock's minutes). A request is
 * admitted when its key has requests left in the current minute and has not used up its tokens; its estimated prompt
 * tokens are counted at admission and its generated tokens as they stream, so a long stream can push its key over
 * the limit, and the key's next request waits for the next minute.
 */
public interface RateLimiter {

    /** Counts the request and its prompt tokens, or refuses it without counting anything. */
    Mono<Decision> admit(Caller caller, long promptTokens);

    /** Counts tokens generated for an admitted request. */
    Mono<Void> addTokens(Caller caller, long tokens);

    /**
     * @param allowed           whether the request may go on
     * @param limit             which limit refused it ({@code requests_per_minute}, {@code tokens_per_minute})
     * @param retryAfterSeconds seconds until the window that refused it ends
     */
    record Decision(boolean allowed, String limit, long retryAfterSeconds) {
        public static final Decision ALLOWED = new Decision(true, null, 0);
    }

    /** Seconds left in the minute window that {@code epochMillis} falls in (1..60). */
    static long secondsLeftInWindow(long epochMillis) {
        long left = 60_000 - (epochMillis % 60_000);
        return Math.max(1, (left + 999) / 1000);
    }
}
