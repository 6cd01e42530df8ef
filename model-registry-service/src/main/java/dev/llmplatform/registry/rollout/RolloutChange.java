package dev.llmplatform.registry.rollout;

import java.time.OffsetDateTime;

/**
 * One entry of the audit log, and one event on the stream: who changed which model's rollout when, from what to
 * what. {@code id} orders changes across models and is the SSE event id clients resume from.
 */
public record RolloutChange(long id, String model, long revision, RolloutAction action, String actor, OffsetDateTime at,
                            State from, State to) {

    /** The part of a rollout that a change moves. */
    public record State(Integer stableVersion, Integer canaryVersion, int canaryPercent) {
        public static State of(Rollout r) {
            return new State(r.stableVersion(), r.canaryVersion(), r.canaryPercent());
        }
    }
}
