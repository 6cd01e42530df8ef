package dev.llmplatform.engine.quant;

/**
 * INT8 weight-only, symmetric per output channel (the W8A16 layout of {@code WeightFormat.INT8}): each row gets
 * the scale {@code max|w| / 127} and values {@code round(w / scale)}, so the row's largest weight is exact and
 * every other is off by at most half a step. (Shrinking the scale to clip outliers was tried: on kjv-demo it
 * changes neither KL nor top-1 agreement.)
 */
public final class Int8ChannelQuantizer {
    private Int8ChannelQuantizer() {
    }

    /** Quantizes {@code row[0..n)} into {@code q[qOff..qOff+n)}; returns the row's scale. */
    public static float quantizeRow(float[] row, int n, byte[] q, int qOff) {
        float amax = 0f;
        for (int i = 0; i < n; i++) {
            amax = Math.max(amax, Math.abs(row[i]));
        }
        float scale = amax / 127f;
        float inv = scale == 0f ? 0f : 1f / scale;
        for (int i = 0; i < n; i++) {
            q[qOff + i] = (byte) Math.max(-127, Math.min(127, Math.round(row[i] * inv)));
        }
        return scale;
    }

    public static float dequantize(byte q, float scale) {
        return q * scale;
    }
}
