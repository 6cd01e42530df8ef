package dev.llmplatform.nativekernels;

/**
 * What sizing a KV cache in GPU memory needs from a runner, after its weights are on the device(s): the bytes one
 * position of one sequence takes there (all layers' keys and values, in the cache's element type; a tensor-parallel
 * rank holds only its heads) and the memory of its device (for several devices, the tightest one's).
 */
public interface DeviceKvBudget {

    /** Bytes of device memory one position takes, on the device that holds the most of it. */
    long kvBytesPerPosition();

    /** {free, total} bytes of device memory now (several devices: the least free, the smallest total). */
    long[] deviceMemory();

    /**
     * The bytes a KV cache may take so that the device(s) end up at most {@code utilization} full, as vLLM's
     * {@code gpu_memory_utilization}: {@code utilization * total - (total - free)}, or 0 when already over it.
     */
    static long budget(long free, long total, double utilization) {
        if (!(utilization > 0 && utilization <= 1)) {
            throw new IllegalArgumentException("GPU memory utilization must be in (0, 1], got " + utilization);
        }
        return Math.max(0, (long) (utilization * total) - (total - free));
    }
}
