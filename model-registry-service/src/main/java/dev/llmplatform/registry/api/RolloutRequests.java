package dev.llmplatform.registry.api;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;

/** Request bodies of the rollout operations. */
final class RolloutRequests {
    private RolloutRequests() {
    }

    /**
     * @param version the version to put on trial
     * @param percent its share of traffic, 0..100; optional (and must be 100) while there is no stable version
     */
    record StartCanary(@NotNull @Min(1) Integer version, @Min(0) @Max(100) Integer percent) {
    }

    /** @param percent the canary's new share of traffic, 0..100 */
    record SetPercent(@NotNull @Min(0) @Max(100) Integer percent) {
    }
}
