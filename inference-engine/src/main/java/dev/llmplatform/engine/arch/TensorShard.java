package dev.llmplatform.engine.arch;

/**
 * Which part of a tensor-parallel model a {@link DecoderModel} computes, and how it meets the other ranks.
 *
 * <p>A sharded model's weights and {@link TransformerSpec} are already the rank's own (its heads, its slice of the
 * MLP, its rows of the embedding and LM head: see {@code dev.llmplatform.engine.parallel}); what the forward pass
 * adds for a shard is the vocabulary range its embedding and LM head rows cover, and an all-reduce after every
 * row-parallel product (and after the vocabulary-parallel embedding), with the row-parallel biases added once,
 * after the sum.
 *
 * @param rank       this shard's index, 0-based
 * @param ranks      the tensor-parallel size
 * @param vocabStart first token id whose embedding and logit this shard holds
 * @param vocabEnd   one past the last
 * @param allReduce  sums a buffer across all ranks, in place, in the same order on every rank
 */
public record TensorShard(int rank, int ranks, int vocabStart, int vocabEnd, AllReduce allReduce) {

    /** Element-wise sum of {@code data[0, length)} over every rank; every rank gets the same bits back. */
    @FunctionalInterface
    public interface AllReduce {
        void sum(float[] data, int length);
    }

    public TensorShard {
        if (rank < 0 || rank >= ranks || vocabStart < 0 || vocabEnd < vocabStart) {
            throw new IllegalArgumentException("bad shard: rank " + rank + " of " + ranks + ", vocabulary [" + vocabStart
                    + ", " + vocabEnd + ")");
        }
    }

    /** The whole model on one rank: nothing to reduce. */
    public static TensorShard whole(int vocab) {
        return new TensorShard(0, 1, 0, vocab, (data, length) -> { });
    }

    public boolean isWhole() {
        return ranks == 1;
    }
}
