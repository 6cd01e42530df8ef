package dev.llmplatform.engine.registry;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

/** One stored version of a model, as listed by the registry (its manifest is fetched separately). */
@JsonIgnoreProperties(ignoreUnknown = true)
public record VersionInfo(@JsonProperty("model") String model,
                          @JsonProperty("version") int version,
                          @JsonProperty("backend") String backend,
                          @JsonProperty("dtype") String dtype,
                          @JsonProperty("quantization") String quantization,
                          @JsonProperty("target_hardware") String targetHardware,
                          @JsonProperty("file_count") int fileCount,
                          @JsonProperty("total_size") long totalSize,
                          @JsonProperty("manifest_sha256") String manifestSha256,
                          @JsonProperty("created_at") String createdAt,
                          @JsonProperty("created_by") String createdBy) {
}
