package dev.llmplatform.engine.arch;

import dev.llmplatform.engine.cpu.KvBlockPool;
import dev.llmplatform.engine.cpu.KvCache;

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
