package dev.llmplatform.gateway.routing;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class CanarySplitTest {

    @Test
    void sharesFollowThePercentWithinBinomialBounds() {
        for (int percent : new int[] {1, 10, 30, 50, 90}) {
            int in = 0;
            int n = 20_000;
            for (int i = 0; i < n; i++) {
                if (CanarySplit.inCanary("key-a/user-" + i, percent)) {
                    in++;
                }
            }
            double expected = n * percent / 100.0;
            double sd = Math.sqrt(n * percent / 100.0 * (1 - percent / 100.0));
            assertThat((double) in).as("percent %d", percent).isBetween(expected - 4 * sd, expected + 4 * sd);
        }
    }

    @Test
    void raisingThePercentOnlyMovesCallersIntoTheCanary() {
        for (int i = 0; i < 5_000; i++) {
            String key = "caller-" + i;
            boolean before = CanarySplit.inCanary(key, 20);
            assertThat(CanarySplit.inCanary(key, 20)).isEqualTo(before);
            if (before) {
                assertThat(CanarySplit.inCanary(key, 21)).isTrue();
                assertThat(CanarySplit.inCanary(key, 75)).isTrue();
            }
        }
        assertThat(CanarySplit.inCanary("anyone", 0)).isFalse();
        assertThat(CanarySplit.inCanary("anyone", 100)).isTrue();
    }
}
