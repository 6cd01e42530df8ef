package dev.llmplatform.nativekernels;

/**
 * Thrown by a rank that stops because another rank of its tensor-parallel group failed (the group was aborted while
 * it waited, or before it got to a sum): a consequence, so {@link GpuRankThreads} reports the failing rank's own
 * exception before this one.
 */
final class PeerFailedException extends RuntimeException {
    PeerFailedException() {
        super("stopped: another rank of the tensor-parallel group failed");
    }
}
