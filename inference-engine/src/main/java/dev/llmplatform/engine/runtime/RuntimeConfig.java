package dev.llmplatform.engine.runtime;

/**
 * How the runtime schedules and how much memory it may use.
 *
 * @param maxRunning       the most sequences in one batch
 * @param maxWaiting       the waiting queue's bound; submissions beyond it get {@link QueueFullException}
 * @param maxTokensPerStep the token budget of one forward pass: decode tokens plus prompt chunks (chunked prefill)
 * @param kvBlockSize      positions per KV block (a power of two)
 * @param kvCacheBlocks    KV blocks in the pool; the runtime never holds more
 * @param prefixCaching    share full prompt blocks between requests with the same prefix
 * @param policy           in-flight batching, or static batching (the baseline it is measured against)
 */
public record RuntimeConfig(int maxRunning, int maxWaiting, int maxTokensPerStep, int kvBlockSize, int kvCacheBlocks,
                            boolean prefixCaching, Policy policy) {

    public enum Policy {
        /** Every step, finished sequences leave and waiting ones join. */
        IN_FLIGHT,
        /** A batch is admitted only when the previous one has completely finished. */
        STATIC
    }

    public RuntimeConfig {
        positive("maxRunning", maxRunning);
        positive("maxWaiting", maxWaiting);
        positive("maxTokensPerStep", maxTokensPerStep);
        positive("kvCacheBlocks", kvCacheBlocks);
        if (Integer.bitCount(kvBlockSize) != 1) {
            throw new IllegalArgumentException("kvBlockSize must be a power of two, got " + kvBlockSize);
        }
    }

    private static void positive(String name, int v) {
        if (v < 1) {
            throw new IllegalArgumentException(name + " must be at least 1, got " + v);
        }
    }

    /** Blocks that fit in {@code bytes} for a model with {@code bytesPerPosition} of KV per position. */
    public static int blocksFor(long bytes, long bytesPerPosition, int blockSize) {
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, bytes / (bytesPerPosition * blockSize)));
    }

    public RuntimeConfig withPolicy(Policy p) {
        return new RuntimeConfig(maxRunning, maxWaiting, maxTokensPerStep, kvBlockSize, kvCacheBlocks, prefixCaching, p);
    }

    public RuntimeConfig withKvCacheBlocks(int blocks) {
        return new RuntimeConfig(maxRunning, maxWaiting, maxTokensPerStep, kvBlockSize, blocks, prefixCaching, policy);
    }

    public RuntimeConfig withPrefixCaching(boolean on) {
        return new RuntimeConfig(maxRunning, maxWaiting, maxTokensPerStep, kvBlockSize, kvCacheBlocks, on, policy);
    }

    public RuntimeConfig withMaxRunning(int n) {
        return new RuntimeConfig(n, maxWaiting, maxTokensPerStep, kvBlockSize, kvCacheBlocks, prefixCaching, policy);
    }

    public RuntimeConfig withMaxTokensPerStep(int n) {
        return new RuntimeConfig(maxRunning, maxWaiting, n, kvBlockSize, kvCacheBlocks, prefixCaching, policy);
    }
}
