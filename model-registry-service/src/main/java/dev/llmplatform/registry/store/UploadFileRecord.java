package dev.llmplatform.registry.store;

/** A file an upload promised: declared size and sha256, and whether its bytes have arrived and matched. */
public record UploadFileRecord(String path, long size, String sha256, boolean stored) {
}
