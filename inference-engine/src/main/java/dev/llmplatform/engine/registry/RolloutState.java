package dev.llmplatform.engine.registry;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * A model's rollout as the registry reports it: the stable version, the canary and its share of traffic (percent),
 * and the revision that a change must name (If-Match) so concurrent writers cannot overwrite each other.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record RolloutState(@JsonProperty("model") String model,
                           @JsonProperty("stable_version") Integer stableVersion,
                           @JsonProperty("canary_version") Integer canaryVersion,
                           @JsonProperty("canary_percent") int canaryPercent,
                           @JsonProperty("revision") long revision,
                           @JsonProperty("updated_at") String updatedAt,
                           @JsonProperty("updated_by") String updatedBy) {
}
