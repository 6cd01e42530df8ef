package dev.llmplatform.engine.parallel;

import dev.llmplatform.engine.arch.TransformerSpec;

/**
 * Which heads, MLP columns and vocabulary rows each of {@code ranks} tensor-parallel ranks holds (Megatron's
 * split): query heads and the MLP width in equal contiguous runs; KV heads divided the same way, or, when there
 * are fewer KV heads than ranks, each KV head replicated on the ranks whose query heads read it; the vocabulary in
 * contiguous runs that may differ by one row.
 *
 * <p>{@link #of} refuses sizes that would cut a head or leave a rank's query heads reading a KV head it does not
 * hold, naming the numbers involved.
 */
public record ShardPlan(int ranks, int heads, int kvHeads, int headDim, int ffn, int vocab) {

    public static ShardPlan of(TransformerSpec spec, int ranks, String model) {
        if (ranks < 1) {
            throw new IllegalArgumentException("tensor-parallel size must be at least 1, got " + ranks);
        }
        int heads = spec.heads();
        int kv = spec.kvHeads();
        if (heads % ranks != 0) {
            throw new IllegalArgumentException("tensor-parallel size " + ranks + " does not divide the " + heads
                    + " attention heads of " + model + ": each rank computes whole heads (use a size that divides " + heads + ")");
        }
        if (kv % ranks != 0 && ranks % kv != 0) {
            throw new IllegalArgumentException("tensor-parallel size " + ranks + " and the " + kv + " key/value heads of "
                    + model + " do not fit: KV heads are divided among the ranks, or replicated when there are fewer "
                    + "than ranks, so one of the two numbers must divide the other");
        }
        if (spec.ffn() % ranks != 0) {
            throw new IllegalArgumentException("tensor-parallel size " + ranks + " does not divide the MLP width "
                    + spec.ffn() + " of " + model);
        }
        if (spec.vocab() < ranks) {
            throw new IllegalArgumentException("tensor-parallel size " + ranks + " exceeds the vocabulary of " + model);
        }
        return new ShardPlan(ranks, heads, kv, spec.headDim(), spec.ffn(), spec.vocab());
    }

    public int localHeads() {
        return heads / ranks;
    }

    public int headStart(int rank) {
        return rank * localHeads();
    }

    /** True when ranks outnumber KV heads, so that each KV head lives on several ranks. */
    public boolean kvReplicated() {
        return kvHeads < ranks;
    }

    public int localKvHeads() {
        return kvReplicated() ? 1 : kvHeads / ranks;
    }

    /** The first KV head of the rank: the one its first query head reads when replicated. */
    public int kvStart(int rank) {
        return kvReplicated() ? headStart(rank) / (heads / kvHeads) : rank * localKvHeads();
    }

    public int localFfn() {
        return ffn / ranks;
    }

    public int ffnStart(int rank) {
        return rank * localFfn();
    }

    public int vocabStart(int rank) {
        return (int) ((long) vocab * rank / ranks);
    }

    public int vocabEnd(int rank) {
        return vocabStart(rank + 1);
    }

    /** The rank's spec: its heads, KV heads, MLP width and the ALiBi slopes of its heads (by global index). */
    public TransformerSpec rankSpec(TransformerSpec spec, int rank) {
        float[] slopes = spec.alibiSlopes();
        if (slopes != null) {
            slopes = java.util.Arrays.copyOfRange(slopes, headStart(rank), headStart(rank) + localHeads());
        }
        return spec.shard(localHeads(), localKvHeads(), localFfn(), slopes);
    }
}
