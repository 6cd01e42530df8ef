package dev.llmplatform.engine.runtime;

/**
 * What a model runner needs to pick one row's next token by {@link SamplingRule} without handing its logits to the
 * host: every value is computed here, on the host, once, so that a GPU kernel and {@link SamplingRule#select} start
 * from the same bits.
 *
 * @param scale    log2(e) / temperature, as a float: y = (logit - max) * scale is the token's log2 probability
 *                 relative to the most likely token; 0 marks a greedy row (argmax, u unused)
 * @param topK     keep the k most likely tokens; 0 for all
 * @param topP     keep the smallest most-likely-first prefix whose mass reaches p; 1 for all
 * @param log2MinP log2(min_p) as a float: drop tokens with y below it; -infinity for none
 * @param u        the uniform draw in [0, 1) for this step, from the sequence's own seeded generator
 */
public record SamplingRow(float scale, int topK, double topP, float log2MinP, double u) {

    /** Greedy: the argmax of the raw logits (lowest id on ties). */
    public static final SamplingRow GREEDY = new SamplingRow(0f, 0, 1, Float.NEGATIVE_INFINITY, 0);

    private static final double LOG2E = 1.4426950408889634;

    public SamplingRow {
        if (!(scale >= 0) || Float.isInfinite(scale) || topK < 0 || !(topP > 0 && topP <= 1) || !(log2MinP <= 0)
                || !(u >= 0 && u < 1)) {
            throw new IllegalArgumentException("bad sampling row: " + scale + ", " + topK + ", " + topP + ", " + log2MinP + ", " + u);
        }
    }

    /**
     * The row for {@code p}'s temperature, top-k, top-p and min-p (its penalties and bias are not this row's business:
     * a request that has them is sampled on the host) with the draw {@code u}.
     */
    public static SamplingRow of(SamplingParams p, double u) {
        if (p.greedy()) {
            return GREEDY;
        }
        return new SamplingRow(scaleOf(p.temperature()), Math.max(0, p.topK()), p.topP(), log2MinP(p.minP()), u);
    }

    /**
     * log2(e) / T as a float; a temperature so small that this overflows keeps Float.MAX_VALUE instead (an infinite
     * scale would make y NaN for the top token), which leaves the top-logit ties as the only candidates.
     */
    static float scaleOf(double temperature) {
        return (float) Math.min(Float.MAX_VALUE, LOG2E / temperature);
    }

    static float log2MinP(double minP) {
        return minP > 0 ? (float) (Math.log(minP) * LOG2E) : Float.NEGATIVE_INFINITY;
    }

    public boolean greedy() {
        return scale == 0;
    }
}
