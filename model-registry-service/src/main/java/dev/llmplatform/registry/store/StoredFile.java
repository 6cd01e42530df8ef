package dev.llmplatform.registry.store;

/** One file of a committed version: its path in the artifact, size, sha256 (hex) and blob key. */
public record StoredFile(String path, long size, String sha256, String blobKey) {
}
