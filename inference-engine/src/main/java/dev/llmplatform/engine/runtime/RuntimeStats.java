package dev.llmplatform.engine.runtime;

/**
 * A snapshot of the runtime's state and counters, for metrics.
 *
 * @param running              sequences in the batch
 * @param waiting              requests queued (new or preempted)
 * @param kvBlocksTotal        the pool's capacity
 * @param kvBlocksUsed         blocks referenced by sequences
 * @param kvBlocksCachedIdle   unreferenced blocks kept for prefix hits (reusable at once)
 * @param promptTokens         prompt tokens admitted (counting each request once)
 * @param cachedPromptTokens   of those, tokens served from the prefix cache
 * @param generatedTokens      tokens generated
 * @param preemptions          sequences preempted for lack of KV memory
 * @param steps                forward passes run
 * @param lastBatchTokens      tokens in the last forward pass
 * @param lastBatchSequences   sequences in the last forward pass
 * @param finished             requests finished, any reason
 * @param cancelled            of those, cancelled
 */
public record RuntimeStats(int running, int waiting, int kvBlocksTotal, int kvBlocksUsed, int kvBlocksCachedIdle,
                           long promptTokens, long cachedPromptTokens, long generatedTokens, long preemptions,
                           long steps, int lastBatchTokens, int lastBatchSequences, long finished, long cancelled) {

    /** Fraction of the pool referenced by sequences. */
    public double kvUsage() {
        return kvBlocksTotal == 0 ? 0 : (double) kvBlocksUsed / kvBlocksTotal;
    }

    /** Fraction of admitted prompt tokens served from the prefix cache. */
    public double prefixHitRate() {
        return promptTokens == 0 ? 0 : (double) cachedPromptTokens / promptTokens;
    }
}
