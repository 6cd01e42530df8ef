package dev.llmplatform.registry.store;

import java.time.OffsetDateTime;

/** A model: its name, the highest version number handed out, when its first version was committed. */
public record ModelRecord(String name, int latestVersion, OffsetDateTime createdAt) {
}
