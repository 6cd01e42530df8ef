package dev.llmplatform.engine.quant;

/**
 * ggml's reference quantizers for GGUF's Q8_0 and Q4_0 blocks ({@code quantize_row_q8_0_ref},
 * {@code quantize_row_q4_0_ref}), byte for byte, and their dequantizers. The engine reads such blocks from .gguf
 * files; these produce the same bytes for tests and for checking a loader against its source checkpoint.
 */
public final class GgmlQuantizer {
    private GgmlQuantizer() {
    }

    /** Q8_0: per 32 values d = amax / 127 (f16), q = roundf(x / d); 34 bytes a block. */
    public static void quantizeQ8_0(float[] x, int n, byte[] out, int off) {
        for (int b = 0; b < n / 32; b++) {
            float amax = 0f;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(x[b * 32 + j]));
            }
            float d = amax / 127f;
            float id = d != 0f ? 1f / d : 0f;
            int o = off + b * 34;
            putF16(out, o, d);
            for (int j = 0; j < 32; j++) {
                out[o + 2 + j] = (byte) roundf(x[b * 32 + j] * id);
            }
        }
    }

    /** Q4_0: d = (signed value of largest magnitude) / -8 (f16), q = min(15, (int) (x / d + 8.5)); 18 bytes a block. */
    public static void quantizeQ4_0(float[] x, int n, byte[] out, int off) {
        for (int b = 0; b < n / 32; b++) {
            float amax = 0f;
            float max = 0f;
            for (int j = 0; j < 32; j++) {
                float v = x[b * 32 + j];
                if (amax < Math.abs(v)) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            float d = max / -8f;
            float id = d != 0f ? 1f / d : 0f;
            int o = off + b * 18;
            putF16(out, o, d);
            for (int j = 0; j < 16; j++) {
                int q0 = Math.min(15, (int) (x[b * 32 + j] * id + 8.5f));
                int q1 = Math.min(15, (int) (x[b * 32 + 16 + j] * id + 8.5f));
                out[o + 2 + j] = (byte) (q0 | q1 << 4);
            }
        }
    }

    public static void dequantizeQ8_0(byte[] in, int off, int n, float[] out) {
        for (int b = 0; b < n / 32; b++) {
            int o = off + b * 34;
            float d = f16(in, o);
            for (int j = 0; j < 32; j++) {
                out[b * 32 + j] = in[o + 2 + j] * d;
            }
        }
    }

    public static void dequantizeQ4_0(byte[] in, int off, int n, float[] out) {
        for (int b = 0; b < n / 32; b++) {
            int o = off + b * 18;
            float d = f16(in, o);
            for (int j = 0; j < 16; j++) {
                int v = in[o + 2 + j];
                out[b * 32 + j] = ((v & 0xF) - 8) * d;
                out[b * 32 + 16 + j] = (((v >> 4) & 0xF) - 8) * d;
            }
        }
    }

    private static float roundf(float v) { // C roundf: half away from zero
        return Math.copySign((float) Math.floor(Math.abs(v) + 0.5), v);
    }

    private static void putF16(byte[] out, int o, float v) {
        short h = Float.floatToFloat16(v);
        out[o] = (byte) h;
        out[o + 1] = (byte) (h >> 8);
    }

    private static float f16(byte[] in, int o) {
        return Float.float16ToFloat((short) ((in[o] & 0xFF) | in[o + 1] << 8));
    }
}
