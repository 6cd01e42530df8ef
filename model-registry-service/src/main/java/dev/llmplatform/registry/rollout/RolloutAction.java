package dev.llmplatform.registry.rollout;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** The four moves of a rollout, as the audit log and the event stream name them. */
public enum RolloutAction {
    START_CANARY, SET_PERCENT, PROMOTE, ROLLBACK;

    @JsonValue
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
