package dev.llmplatform.engine.arch;

import dev.llmplatform.engine.cpu.WeightMatrix;

/**
 * One decoder block's weights. Q/K/V come either as three matrices or as one fused matrix whose output is
 * scattered into q, k, v by per-head column offsets (the families disagree on the fused layout; see
 * {@link FusedQkv}). Norm weights and biases are small and copied to float arrays; big matrices stay mapped.
 * Any bias or second norm may be null.
 */
public record LayerWeights(
        float[] norm1Weight, float[] norm1Bias,
        float[] norm2Weight, float[] norm2Bias,
        WeightMatrix wq, float[] bq, WeightMatrix wk, float[] bk, WeightMatrix wv, float[] bv,
        FusedQkv fused,
        WeightMatrix wo, float[] bo,
        WeightMatrix wGate, float[] bGate,
        WeightMatrix wUp, float[] bUp,
        WeightMatrix wDown, float[] bDown) {

    /**
     * A fused QKV projection and where each head's slice starts in its output.
     *
     * @param qOffset column of query head h's first element
     * @param kOffset column of key head g's first element
     * @param vOffset column of value head g's first element
     */
    public record FusedQkv(WeightMatrix w, float[] bias, int[] qOffset, int[] kOffset, int[] vOffset) {

        /** [q heads | k heads | v heads], as GPT-2, MPT and Falcon-7B's multi-query layout store them. */
        public static FusedQkv sequential(WeightMatrix w, float[] bias, int heads, int kvHeads, int headDim) {
            int[] q = new int[heads];
            int[] k = new int[kvHeads];
            int[] v = new int[kvHeads];
            for (int h = 0; h < heads; h++) {
                q[h] = h * headDim;
            }
            for (int g = 0; g < kvHeads; g++) {
                k[g] = (heads + g) * headDim;
                v[g] = (heads + kvHeads + g) * headDim;
            }
            return new FusedQkv(w, bias, q, k, v);
        }

        /**
         * Grouped per KV head: for each group, its query heads then its key then its value (Falcon's new decoder
         * architecture; with one query head per group it is BLOOM's and Falcon-RW's [q k v] per head).
         */
        public static FusedQkv grouped(WeightMatrix w, float[] bias, int heads, int kvHeads, int headDim) {
            int perGroup = heads / kvHeads;
            int[] q = new int[heads];
            int[] k = new int[kvHeads];
            int[] v = new int[kvHeads];
            for (int g = 0; g < kvHeads; g++) {
                int base = g * (perGroup + 2) * headDim;
                for (int i = 0; i < perGroup; i++) {
                    q[g * perGroup + i] = base + i * headDim;
                }
                k[g] = base + perGroup * headDim;
                v[g] = base + (perGroup + 1) * headDim;
            }
            return new FusedQkv(w, bias, q, k, v);
        }
    }
}
