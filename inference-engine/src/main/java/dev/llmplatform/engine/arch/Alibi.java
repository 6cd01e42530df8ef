package dev.llmplatform.engine.arch;

/** ALiBi slopes: the per-head penalty per token of distance, as BLOOM/Falcon and MPT each compute them. */
final class Alibi {
    private Alibi() {
    }

    /** BLOOM's and Falcon's build_alibi_tensor: geometric slopes, interleaved extras when heads is not a power of 2. */
    static float[] bloomSlopes(int heads) {
        int closest = Integer.highestOneBit(heads);
        double base = Math.pow(2, -Math.pow(2, -(log2(closest) - 3)));
        float[] slopes = new float[heads];
        for (int i = 0; i < closest; i++) {
            slopes[i] = (float) Math.pow(base, i + 1);
        }
        if (closest != heads) {
            double extraBase = Math.pow(2, -Math.pow(2, -(log2(2 * closest) - 3)));
            int remaining = Math.min(closest, heads - closest);
            for (int i = 0; i < remaining; i++) {
                slopes[closest + i] = (float) Math.pow(extraBase, 1 + 2 * i);
            }
        }
        return slopes;
    }

    /** MPT's build_mpt_alibi_tensor with alibi_bias_max. */
    static float[] mptSlopes(int heads, double biasMax) {
        int pow2 = 1 << (int) Math.ceil(log2(heads));
        float[] all = new float[pow2];
        for (int i = 0; i < pow2; i++) {
            double m = (i + 1) * (biasMax / pow2);
            all[i] = (float) (1.0 / Math.pow(2, m));
        }
        if (pow2 == heads) {
            return all;
        }
        // concat(slopes[1::2], slopes[::2])[:heads]
        float[] out = new float[heads];
        int k = 0;
        for (int i = 1; i < pow2 && k < heads; i += 2) {
            out[k++] = all[i];
        }
        for (int i = 0; i < pow2 && k < heads; i += 2) {
            out[k++] = all[i];
        }
        return out;
    }

    private static double log2(double x) {
        return Math.log(x) / Math.log(2);
    }
}
