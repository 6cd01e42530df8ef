package dev.llmplatform.engine.registry;

import java.nio.file.Path;

/** A pulled version: which one, how many files, how many bytes crossed the network, and where it now is. */
public record PullResult(String model, int version, int files, long bytesTransferred, Path directory) {
}
