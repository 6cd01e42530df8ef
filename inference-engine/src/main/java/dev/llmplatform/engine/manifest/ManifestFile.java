package dev.llmplatform.engine.manifest;

import com.fasterxml.jackson.annotation.JsonProperty;

/** One file of an engine artifact: its path relative to the artifact root ('/'-separated), size in bytes, sha256 (hex). */
public record ManifestFile(@JsonProperty("path") String path, @JsonProperty("size") long size,
                           @JsonProperty("sha256") String sha256) {
}
