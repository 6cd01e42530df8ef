package dev.llmplatform.nativekernels;

import org.bytedeco.cuda.cudart.CUstream_st;

/**
 * The all-reduce of a tensor-parallel group of GPU ranks: each rank's {@link Rank} sums a device buffer over all
 * ranks, in place, enqueued on the rank's stream. Implementations: NCCL between GPUs ({@link NcclGroup}), and a copy
 * and an add ({@link CopyAddGroup}) for ranks sharing one GPU (or any GPUs, without NCCL).
 */
interface ReduceGroup extends AutoCloseable {

    /** One rank's side of the all-reduce. Every call comes from that rank's thread. */
    interface Rank {
        /** Binds the rank's stream and kernels, on the rank's thread (its device current), before its first sum. */
        void bind(CUstream_st stream, KernelModule kernels);

        /** Makes room for sums of up to {@code floats} floats (allocations happen here, outside steps and captures). */
        default void reserve(long floats) {
        }

        /** Enqueues the in-place sum of {@code floats} f32 values at {@code buf} over every rank. */
        void sum(long buf, long floats);

        /** Whether {@link #sumAddRmsnorm} takes {@code rows} rows of {@code hidden} floats (default: never). */
        default boolean fusesAddRmsnorm(int rows, int hidden) {
            return false;
        }

        /**
         * The sum of {@code buf} ([rows][hidden] f32) over every rank fused with the residual add and RMSNorm that
         * follow it: {@code x += sum + bias} (bias may be 0), {@code out = rmsnorm(x) * w} in {@code outType}, the same
         * bits as {@link #sum} then {@code add_rmsnorm}; {@code buf} keeps this rank's part. Only where
         * {@link #fusesAddRmsnorm} says so.
         */
        default void sumAddRmsnorm(long buf, int rows, int hidden, long x, long bias, long w, long out, int outType, float eps) {
            throw new UnsupportedOperationException("this all-reduce has no fused add + RMSNorm");
        }

        /** Whether {@link #sum} may be captured into a CUDA graph (then every rank must replay its graph together). */
        boolean capturable();
    }

    Rank rank(int r);

    /** What it is, for logs. */
    String describe();

    /**
     * Called from any thread when a rank failed in a step: releases the ranks that wait for it inside a sum, so the
     * step ends in an exception instead of a hang.
     */
    void abort();

    /** Why the group cannot run another step (a failed rank aborted it for good), or null while it can. */
    default String unusableReason() {
        return null;
    }

    /** Re-arms the group before a step, when a failed step leaves it usable; throws when it cannot be used again. */
    void beginStep();

    @Override
    void close();
}
