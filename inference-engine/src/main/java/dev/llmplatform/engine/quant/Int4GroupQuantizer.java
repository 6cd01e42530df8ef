package dev.llmplatform.engine.quant;

/**
 * INT4 weight-only, group-wise asymmetric with zero points (the layout of {@code WeightFormat.INT4}, the AWQ/GPTQ
 * family). Each group of {@code groupSize} columns of a row gets, as GPTQ computes them, a range that includes 0
 * ({@code lo = min(min w, 0)}, {@code hi = max(max w, 0)}), a scale {@code s = (hi - lo) / 15} (f32), a
 * zero point {@code z = round(-lo / s)} in [0, 15], and values {@code n = clamp(round(w / s) + z, 0, 15)};
 * the weight is {@code (n - z) * s}.
 *
 * <p>Rows whose width the group size does not divide end with a shorter group ({@code cols mod groupSize}
 * columns); the width must be a multiple of 32, the packing unit. Nibbles are packed in chunks of 32 columns,
 * 16 bytes each: byte j holds column j (low nibble) and column j + 16 (high nibble).
 */
public final class Int4GroupQuantizer {
    private Int4GroupQuantizer() {
    }

    /** Whether rows of {@code cols} values can be stored as INT4 (the packing works in chunks of 32). */
    public static boolean supports(int cols) {
        return cols % 32 == 0 && cols > 0;
    }

    public static int groups(int cols, int groupSize) {
        return (cols + groupSize - 1) / groupSize;
    }

    /**
     * Quantizes one row of {@code cols} values: nibbles into {@code packed[pOff..pOff+cols/2)}, scales into
     * {@code scales[sOff..sOff+groups)}, zero points into {@code zeros[sOff..sOff+groups)}.
     */
    public static void quantizeRow(float[] row, int cols, int groupSize, byte[] packed, int pOff, float[] scales,
                                   byte[] zeros, int sOff) {
        if (!supports(cols) || groupSize % 32 != 0) {
            throw new IllegalArgumentException("int4 rows need a multiple of 32 values and a group size that is a multiple of 32 ("
                    + cols + ", " + groupSize + ")");
        }
        java.util.Arrays.fill(packed, pOff, pOff + cols / 2, (byte) 0);
        for (int g = 0, start = 0; start < cols; g++, start += groupSize) {
            int end = Math.min(cols, start + groupSize);
            float lo = 0f;
            float hi = 0f;
            for (int c = start; c < end; c++) {
                lo = Math.min(lo, row[c]);
                hi = Math.max(hi, row[c]);
            }
            float s = hi > lo ? (hi - lo) / 15f : 1f;
            if (s < Float.MIN_NORMAL) { // a range too small to divide by: every value rounds to the zero point
                s = Float.MIN_NORMAL;
            }
            int z = Math.max(0, Math.min(15, Math.round(-lo / s)));
            scales[sOff + g] = s;
            zeros[sOff + g] = (byte) z;
            for (int c = start; c < end; c++) {
                int n = Math.max(0, Math.min(15, Math.round(row[c] / s) + z));
                int chunk = c >>> 5;
                int j = c & 31;
                int idx = pOff + chunk * 16 + (j & 15);
                packed[idx] = (byte) (packed[idx] | (j < 16 ? n : n << 4));
            }
        }
    }

    /** The 4-bit value of column {@code c} in a row packed at {@code packed[pOff..]}. */
    public static int nibble(byte[] packed, int pOff, int c) {
        int b = packed[pOff + (c >>> 5) * 16 + (c & 15)];
        return (c & 31) < 16 ? b & 0xF : (b >> 4) & 0xF;
    }

    /** Dequantizes one packed row into {@code out[0..cols)}. */
    public static void dequantizeRow(byte[] packed, int pOff, float[] scales, byte[] zeros, int sOff, int cols, int groupSize,
                                     float[] out) {
        for (int c = 0; c < cols; c++) {
            int g = sOff + c / groupSize;
            out[c] = (nibble(packed, pOff, c) - (zeros[g] & 0xFF)) * scales[g];
        }
    }
}
