package dev.llmplatform.gateway.keys;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class InMemoryRateLimiterTest {
    /** A clock the test moves. */
    static final class MovableClock extends Clock {
        long millis;

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return Instant.ofEpochMilli(millis);
        }
    }

    @Test
    void refusesBeyondTheRequestLimitUntilTheMinuteEnds() {
        MovableClock clock = new MovableClock();
        clock.millis = 60_000 * 1000 + 15_000;
        InMemoryRateLimiter limiter = new InMemoryRateLimiter(clock);
        Caller c = new Caller("k", 2, 0);
        assertThat(limiter.admit(c, 5).block().allowed()).isTrue();
        assertThat(limiter.admit(c, 5).block().allowed()).isTrue();
        RateLimiter.Decision refused = limiter.admit(c, 5).block();
        assertThat(refused.allowed()).isFalse();
        assertThat(refused.limit()).isEqualTo("requests_per_minute");
        assertThat(refused.retryAfterSeconds()).isEqualTo(45);
        clock.millis += 45_000;
        assertThat(limiter.admit(c, 5).block().allowed()).isTrue();
    }

    @Test
    void generatedTokensUseUpTheTokenLimit() {
        MovableClock clock = new MovableClock();
        InMemoryRateLimiter limiter = new InMemoryRateLimiter(clock);
        Caller c = new Caller("k", 0, 100);
        assertThat(limiter.admit(c, 30).block().allowed()).isTrue();
        limiter.addTokens(c, 70).block();
        RateLimiter.Decision refused = limiter.admit(c, 1).block();
        assertThat(refused.allowed()).isFalse();
        assertThat(refused.limit()).isEqualTo("tokens_per_minute");
        assertThat(limiter.admit(new Caller("other", 0, 100), 1).block().allowed()).isTrue();
    }
}
