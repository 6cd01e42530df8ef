package dev.llmplatform.registry.rollout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.llmplatform.registry.problem.Conflict;
import dev.llmplatform.registry.problem.InvalidRequest;
import java.time.OffsetDateTime;
import org.junit.jupiter.api.Test;

/** The rollout state machine on its own: every legal move and the refusals. */
class RolloutTest {
    private static final OffsetDateTime AT = OffsetDateTime.parse("2026-01-01T00:00:00Z");

    private static Rollout stable(int v) {
        return Rollout.initial("m").startCanary(v, null, AT, "a").promote(AT, "a");
    }

    @Test
    void shouldGiveTheFirstCanaryAllTrafficAndMakeItStableOnPromotion() {
        Rollout first = Rollout.initial("m").startCanary(1, null, AT, "alice");
        assertThat(first.canaryVersion()).isEqualTo(1);
        assertThat(first.canaryPercent()).isEqualTo(100);
        assertThat(first.revision()).isEqualTo(1);
        assertThat(first.updatedBy()).isEqualTo("alice");
        Rollout promoted = first.promote(AT, "bob");
        assertThat(promoted.stableVersion()).isEqualTo(1);
        assertThat(promoted.canaryVersion()).isNull();
        assertThat(promoted.canaryPercent()).isZero();
        assertThat(promoted.revision()).isEqualTo(2);
    }

    @Test
    void shouldSplitTrafficBetweenStableAndCanaryAndRollBackToStable() {
        Rollout canary = stable(1).startCanary(2, 5, AT, "a").setCanaryPercent(40, AT, "a");
        assertThat(canary.stableVersion()).isEqualTo(1);
        assertThat(canary.canaryVersion()).isEqualTo(2);
        assertThat(canary.canaryPercent()).isEqualTo(40);
        Rollout back = canary.rollback(AT, "a");
        assertThat(back.stableVersion()).isEqualTo(1);
        assertThat(back.canaryVersion()).isNull();
        assertThat(back.revision()).isEqualTo(canary.revision() + 1);
    }

    @Test
    void shouldRefuseMovesThatMakeNoSense() {
        assertThatThrownBy(() -> Rollout.initial("m").promote(AT, "a")).isInstanceOf(Conflict.class).hasMessageContaining("no canary");
        assertThatThrownBy(() -> Rollout.initial("m").rollback(AT, "a")).isInstanceOf(Conflict.class);
        assertThatThrownBy(() -> Rollout.initial("m").setCanaryPercent(5, AT, "a")).isInstanceOf(Conflict.class);
        assertThatThrownBy(() -> Rollout.initial("m").startCanary(1, 30, AT, "a")).isInstanceOf(Conflict.class)
                .hasMessageContaining("100%");
        assertThatThrownBy(() -> stable(1).startCanary(1, 10, AT, "a")).isInstanceOf(Conflict.class).hasMessageContaining("already the stable");
        assertThatThrownBy(() -> stable(1).startCanary(2, 10, AT, "a").startCanary(3, 10, AT, "a")).isInstanceOf(Conflict.class)
                .hasMessageContaining("already running");
        assertThatThrownBy(() -> stable(1).startCanary(2, 101, AT, "a")).isInstanceOf(InvalidRequest.class);
        assertThatThrownBy(() -> stable(1).startCanary(2, null, AT, "a")).isInstanceOf(InvalidRequest.class)
                .hasMessageContaining("percent is required");
    }
}
