package dev.llmplatform.engine.registry;

/** A pushed version: its number, how many files and bytes went up, and the sha256 of its manifest. */
public record PushResult(String model, int version, int files, long bytes, String manifestSha256) {
}
