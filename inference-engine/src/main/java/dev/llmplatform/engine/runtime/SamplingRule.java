package dev.llmplatform.engine.runtime;

import java.util.Arrays;

/**
 * The one definition of how a token is drawn from temperature, top-k, top-p and min-p, written so that a GPU
 * kernel (native-kernels' {@code sample_rows}, in {@code sampling.cuh}) computes exactly the same token from the
 * same logits and the same {@link SamplingRow}: every decision is a comparison of floats computed by the same
 * IEEE-754 operations on both sides, or of 64-bit integers. There are no floating-point sums whose order could
 * differ, so the two sides agree bit for bit, not just up to rounding.
 *
 * <p>The rule, for one row of logits {@code l[0..V)}:
 * <ol>
 *   <li><b>Order.</b> Tokens are ranked by logit, largest first, ties by the lower id (NaN ranks as -infinity,
 *       -0 as +0). Top-k, top-p and min-p each keep a prefix of this ranking.</li>
 *   <li><b>Relative log-probability.</b> {@code max} is the largest logit; {@code y = (l - max) * scale} in float,
 *       with {@code scale = log2(e) / T} ({@link SamplingRow#scale}), is log2 of the token's probability relative
 *       to the most likely token's. (A row whose max is infinite, or a greedy row, takes the first-ranked token.)</li>
 *   <li><b>Weights.</b> A token's weight is {@code floor(2^(y + 40))} as a 64-bit integer, computed by
 *       {@link #weight} with float operations only (floor, one fma chain, an exact power-of-two scale and a
 *       truncation), never a library {@code exp}, whose last bit differs between Java and CUDA. Sums of weights
 *       are exact in any order. Tokens less likely than 2^-40 (9e-13) times the most likely get weight 0 and are
 *       never drawn; that drops at most V * 2^-40 of the mass (2.3e-7 of the top token's probability at V = 256k),
 *       below the rounding the float sampler had.</li>
 *   <li><b>Candidates:</b> tokens with {@code y >= max(-40, log2(min_p))}: min-p (a token at least min_p times as
 *       likely as the top one), and weight above 0.</li>
 *   <li><b>Top-k:</b> the first k candidates in the ranking (all when k is 0 or there are fewer).</li>
 *   <li><b>Top-p:</b> with {@code Z} the weight of the top-k candidates and {@code P = min(Z, ceil(p * Z))}
 *       (double product), the shortest prefix of them in ranking order whose weight reaches P: top-p over the
 *       distribution renormalised after top-k and min-p, as vLLM applies them.</li>
 *   <li><b>Draw:</b> with {@code S} the survivors' weight and {@code r = min(S - 1, floor(u * S))} (double
 *       product), the survivor at which the running weight, walking the survivors in <em>id</em> order, first
 *       exceeds r. Any fixed walking order gives each survivor probability weight / S; id order is the one a GPU
 *       can walk without sorting.</li>
 * </ol>
 *
 * <p>This class finds the prefixes with quickselect (expected linear time) and sorts only the survivors by id; the
 * kernel finds the same boundaries by radix selection on the logits' bits. Not thread-safe (scratch buffer).
 */
public final class SamplingRule {
    /** Weights are fixed point with this many fraction bits below the top token's 1.0. */
    public static final int WEIGHT_BITS = 40;
    private static final float MIN_Y = -WEIGHT_BITS;

    // 2^f = e^(f ln 2) on [0, 1]: Taylor coefficients (ln 2)^j / j!, as floats, written identically in sampling.cuh.
    // Degree 8 leaves a relative error under 1.1e-7 (the next term); the value only has to be the same on both sides.
    private static final float C1 = 0x1.62e43p-1f, C2 = 0x1.ebfbep-3f, C3 = 0x1.c6b08ep-5f, C4 = 0x1.3b2ab6p-7f,
            C5 = 0x1.5d87fep-10f, C6 = 0x1.430912p-13f, C7 = 0x1.ffcbfcp-17f, C8 = 0x1.62c022p-20f;

    private int[] idx = new int[0];

    /** The weight of a token with relative log2-probability y: floor(2^(y + 40)), 0 below -40 (or NaN). */
    public static long weight(float y) {
        if (!(y >= MIN_Y)) {
            return 0;
        }
        float n = (float) Math.floor(y);
        float f = y - n;
        float p = C8;
        p = Math.fma(p, f, C7);
        p = Math.fma(p, f, C6);
        p = Math.fma(p, f, C5);
        p = Math.fma(p, f, C4);
        p = Math.fma(p, f, C3);
        p = Math.fma(p, f, C2);
        p = Math.fma(p, f, C1);
        p = Math.fma(p, f, 1f);
        // p * 2^(40 + n) is exact (a power of two, 0 <= 40 + n <= 40); the cast truncates, as CUDA's does.
        return (long) (p * Float.intBitsToFloat((127 + WEIGHT_BITS + (int) n) << 23));
    }

    /** y for logit l: float subtraction, then float multiplication (the kernel uses the same two roundings). */
    static float relative(float l, float max, float scale) {
        return (l - max) * scale;
    }

    /** The first-ranked token: largest logit, lowest id on ties, NaN as -infinity (id 0 when all are NaN). */
    public static int argmax(float[] logits, int off, int vocab) {
        int best = 0;
        float bv = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            float v = logits[off + i];
            if (v > bv) {
                bv = v;
                best = i;
            }
        }
        return best;
    }

    /** Whether token a ranks before token b (canonical logits: not NaN, so float comparison is the order). */
    private static boolean before(float[] l, int off, int a, int b) {
        float la = l[off + a], lb = l[off + b];
        return la > lb || (la == lb && a < b);
    }

    /** The token {@code row} picks from {@code logits[off .. off + vocab)} (left unchanged). */
    public int select(float[] logits, int off, int vocab, SamplingRow row) {
        if (row.greedy()) {
            return argmax(logits, off, vocab);
        }
        int top = argmax(logits, off, vocab);
        float max = logits[off + top];
        if (Float.isInfinite(max) || Float.isNaN(max)) {
            return top;
        }
        if (idx.length < vocab) {
            idx = new int[vocab];
        }
        float scale = row.scale();
        float floorY = Math.max(MIN_Y, row.log2MinP());
        // Candidates, in id order; they are a prefix of the ranking (y does not increase down it), and a NaN logit's
        // y is NaN, which fails the test as -infinity would.
        int n = 0;
        for (int i = 0; i < vocab; i++) {
            if (relative(logits[off + i], max, scale) >= floorY) {
                idx[n++] = i;
            }
        }
        if (row.topK() > 0 && row.topK() < n) {
            selectFirst(logits, off, 0, n, row.topK());
            n = row.topK();
        }
        if (row.topP() < 1) {
            long z = 0;
            for (int j = 0; j < n; j++) {
                z += weight(relative(logits[off + idx[j]], max, scale));
            }
            long target = Math.min(z, (long) Math.ceil(row.topP() * (double) z));
            if (target < z) { // reaching all of Z needs every candidate (each weighs at least 1)
                n = prefixReaching(logits, off, n, target, max, scale);
            }
        }
        Arrays.sort(idx, 0, n);
        long s = 0;
        for (int j = 0; j < n; j++) {
            s += weight(relative(logits[off + idx[j]], max, scale));
        }
        long r = Math.min(s - 1, (long) (row.u() * (double) s));
        long acc = 0;
        for (int j = 0; j < n; j++) {
            acc += weight(relative(logits[off + idx[j]], max, scale));
            if (acc > r) {
                return idx[j];
            }
        }
        throw new IllegalStateException("unreachable: the survivors' weights sum to " + s + " > " + r);
    }

    /** Rearranges idx[lo..hi) so that its first k - lo positions hold the k - lo first-ranked of them (quickselect). */
    private void selectFirst(float[] l, int off, int lo, int hi, int k) {
        while (hi - lo > 1) {
            int p = partition(l, off, lo, hi);
            if (p == k || p == k - 1) {
                return;
            }
            if (p > k) {
                hi = p;
            } else {
                lo = p + 1;
            }
        }
    }

    /**
     * The shortest ranking-order prefix of idx[0..n) whose weight reaches target (0 < target <= its total): rearranges
     * idx so that the prefix is idx[0..m) and returns m. Weighted quickselect: everything left of lo ranks before the
     * open range and weighs acc < target; the range's right end keeps the invariant weight(idx[0..hi)) >= target.
     */
    private int prefixReaching(float[] l, int off, int n, long target, float max, float scale) {
        int lo = 0, hi = n;
        long acc = 0;
        while (hi - lo > 1) {
            int p = partition(l, off, lo, hi);
            long left = 0;
            for (int j = lo; j < p; j++) {
                left += weight(relative(l[off + idx[j]], max, scale));
            }
            long pivot = weight(relative(l[off + idx[p]], max, scale));
            if (acc + left >= target) {
                hi = p;
            } else if (acc + left + pivot >= target) {
                return p + 1;
            } else {
                acc += left + pivot;
                lo = p + 1;
            }
        }
        return lo + 1;
    }

    /**
     * Lomuto partition of idx[lo..hi) around a median-of-three pivot: returns the pivot's final position p, with
     * every element ranked before it in [lo, p) and after it in (p, hi). The ranking is a strict total order.
     */
    private int partition(float[] l, int off, int lo, int hi) {
        int mid = (lo + hi) >>> 1, last = hi - 1;
        // median of idx[lo], idx[mid], idx[last] to idx[last]
        if (before(l, off, idx[mid], idx[lo])) {
            swap(mid, lo);
        }
        if (before(l, off, idx[last], idx[lo])) {
            swap(last, lo);
        }
        if (before(l, off, idx[mid], idx[last])) {
            swap(mid, last);
        }
        int pivot = idx[last];
        int store = lo;
        for (int j = lo; j < last; j++) {
            if (before(l, off, idx[j], pivot)) {
                swap(j, store++);
            }
        }
        swap(store, last);
        return store;
    }

    private void swap(int a, int b) {
        int t = idx[a];
        idx[a] = idx[b];
        idx[b] = t;
    }
}
