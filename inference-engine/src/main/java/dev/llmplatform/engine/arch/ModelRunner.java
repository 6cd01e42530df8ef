package dev.llmplatform.engine.arch;

import dev.llmplatform.engine.cpu.KvBlockPool;
import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.runtime.SamplingRow;
import dev.llmplatform.engine.runtime.SamplingRule;

/**
 * What the runtime needs from a model, whatever computes it: the CPU's {@link DecoderModel} or a GPU runner
 * (native-kernels). The scheduler owns the policy (which tokens run, which KV blocks they use); the runner only
 * computes a {@link Batch} and writes the logits the batch asks for.
 */
public interface ModelRunner extends AutoCloseable {

    String name();

    int vocabSize();

    int contextLength();

    /** A KV pool of {@code maxBlocks} blocks of {@code blockSize} positions, stored where this runner computes. */
    KvBlockPool newKvPool(int blockSize, int maxBlocks);

    /** A sequence's cache drawing blocks from {@code pool}. */
    KvCache newCache(KvBlockPool pool);

    /**
     * Computes the batch: writes every token's keys and values into its cache and the next-token logits of the
     * tokens that want them into {@code logits}, one row of {@link #vocabSize()} each, in batch order.
     */
    void forward(Batch batch, float[] logits);

    /**
     * Computes the batch and picks the argmax token of each row that wants logits, without handing the logits over
     * (a GPU runner keeps them on the device). Returns false, computing nothing, when the runner has no such path;
     * the runtime then calls {@link #forward} and samples itself.
     */
    default boolean forwardGreedy(Batch batch, int[] nextIds) {
        return false;
    }

    /**
     * Computes the batch and picks each logits row's token by {@link SamplingRule} with {@code rows[r]} (greedy rows
     * take the argmax), without handing the logits over (a GPU runner samples on the device and copies back only
     * the ids). The runtime calls it only when no row needs the host (no logit bias, penalties or logprobs), and
     * the uniform numbers in the rows come from each sequence's own seeded generator, so the tokens are the ones
     * {@link dev.llmplatform.engine.runtime.Sampler} would pick from the same logits. Returns false, computing
     * nothing, when the runner has no such path; the runtime then calls {@link #forward} and samples itself.
     */
    default boolean forwardSampled(Batch batch, SamplingRow[] rows, int[] nextIds) {
        return false;
    }

    /** {@link #forwardSampled}'s selection on the host, for runners that compute logits there: rows of {@code vocab}. */
    static void sampleRows(float[] logits, SamplingRow[] rows, int n, int vocab, int[] nextIds, SamplingRule rule) {
        for (int r = 0; r < n; r++) {
            nextIds[r] = rule.select(logits, r * vocab, vocab, rows[r]);
        }
    }

    /** The argmax of each of {@code rows} rows of {@code vocab} logits (lowest id on ties), for host-side runners. */
    static void argmaxRows(float[] logits, int rows, int vocab, int[] nextIds) {
        for (int r = 0; r < rows; r++) {
            int off = r * vocab;
            int best = 0;
            for (int i = 1; i < vocab; i++) {
                if (logits[off + i] > logits[off + best]) {
                    best = i;
                }
            }
            nextIds[r] = best;
        }
    }
}
