package dev.llmplatform.engine.registry;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

/** A model in the registry: its name, newest version number and when it was first pushed. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ModelSummary(@JsonProperty("name") String name,
                           @JsonProperty("latest_version") int latestVersion,
                           @JsonProperty("created_at") String createdAt) {
}
