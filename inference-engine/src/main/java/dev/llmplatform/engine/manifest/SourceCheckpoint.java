package dev.llmplatform.engine.manifest;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The checkpoint an engine was built from: its name (e.g. {@code meta-llama/Llama-3.2-1B} or a local directory name)
 * and its tree digest ({@link FileDigests#treeDigest}), so two builds can be traced to the same input.
 */
public record SourceCheckpoint(@JsonProperty("name") String name, @JsonProperty("sha256") String sha256) {
}
