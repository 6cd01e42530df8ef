package dev.llmplatform.engine.parallel;

/**
 * The all-reduce of ranks that are threads of one process: a reduce-scatter and an all-gather through shared
 * memory. After the first barrier every rank's partial buffer is complete; rank r sums slice r of the vector over
 * all ranks, always in rank order 0, 1, ..., so that the result does not depend on which thread ran first (results
 * are reproducible run to run); after the second barrier every rank copies the whole sum back into its buffer.
 *
 * <p>The second barrier also makes reuse safe: no rank writes its partial buffer for the next reduction, nor the sum
 * buffer, before every rank has finished reading both.
 */
final class InProcessAllReduce {
    private final int ranks;
    private final RankBarrier barrier;
    private final float[][] partials;
    private float[] sum = new float[0];

    InProcessAllReduce(int ranks, RankBarrier barrier) {
        this.ranks = ranks;
        this.barrier = barrier;
        this.partials = new float[ranks][];
    }

    /** Grows the shared sum buffer; called by the coordinator between steps, while no rank runs. */
    void ensureCapacity(int length) {
        if (sum.length < length) {
            sum = new float[Math.max(length, sum.length * 2)];
        }
    }

    /** {@code data[0, length) = sum over ranks}; every rank calls it with the same length at the same point. */
    void sum(int rank, float[] data, int length) {
        partials[rank] = data;
        barrier.await(rank);
        int from = (int) ((long) length * rank / ranks);
        int to = (int) ((long) length * (rank + 1) / ranks);
        float[] s = sum;
        float[] first = partials[0];
        System.arraycopy(first, from, s, from, to - from);
        for (int r = 1; r < ranks; r++) {
            float[] p = partials[r];
            for (int i = from; i < to; i++) {
                s[i] += p[i];
            }
        }
        barrier.await(rank);
        System.arraycopy(s, 0, data, 0, length);
    }
}
