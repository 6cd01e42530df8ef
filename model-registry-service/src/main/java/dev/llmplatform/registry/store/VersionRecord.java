package dev.llmplatform.registry.store;

import java.time.OffsetDateTime;

/**
 * A committed version. The manifest is kept verbatim (the bytes clients verify against {@code manifestSha256});
 * backend, dtype, quantization and target hardware are copied out of it so versions can be listed and filtered
 * without parsing. {@code artifactId} names where its blobs live.
 */
public record VersionRecord(String model, int version, String artifactId, String manifest, String manifestSha256,
                            String backend, String dtype, String quantization, String targetHardware, int fileCount,
                            long totalSize, OffsetDateTime createdAt, String createdBy) {
}
