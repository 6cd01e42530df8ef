package dev.llmplatform.engine.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The scalar twins of {@link QuantKernels}: the same row-times-token products, one value at a time, straight from
 * each {@link WeightFormat}'s definition. They run where the vector kernels do not ({@link QuantKernels#SUPPORTED})
 * and are what the tests hold the vector kernels to.
 */
final class QuantKernelsScalar {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private QuantKernelsScalar() {
    }

    private static int b(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off);
    }

    /** Column j (0..31) of the 4-bit chunk at {@code off}. */
    static int nibble(MemorySegment s, long off, int j) {
        int packed = b(s, off + (j & 15));
        return j < 16 ? packed & 0xF : (packed >> 4) & 0xF;
    }

    static float q8_0(MemorySegment w, long row, int blocks, float[] x, int xo) {
        float sum = 0f;
        for (int blk = 0; blk < blocks; blk++) {
            long o = row + blk * 34L;
            float d = QuantKernels.f16(w, o);
            float s = 0f;
            for (int j = 0; j < 32; j++) {
                s += b(w, o + 2 + j) * x[xo + blk * 32 + j];
            }
            sum += d * s;
        }
        return sum;
    }

    static float q4_0(MemorySegment w, long row, int blocks, float[] x, int xo) {
        float sum = 0f;
        for (int blk = 0; blk < blocks; blk++) {
            long o = row + blk * 18L;
            float d = QuantKernels.f16(w, o);
            float s = 0f;
            for (int j = 0; j < 32; j++) {
                s += (nibble(w, o + 2, j) - 8) * x[xo + blk * 32 + j];
            }
            sum += d * s;
        }
        return sum;
    }

    static float int8(MemorySegment w, long row, int cols, float scale, float[] x, int xo) {
        float sum = 0f;
        for (int c = 0; c < cols; c++) {
            sum += b(w, row + c) * x[xo + c];
        }
        return sum * scale;
    }

    static float int4(MemorySegment w, long row, MemorySegment scales, MemorySegment zeros, long gi, int cols, int group,
                      float[] x, int xo) {
        float sum = 0f;
        for (int c = 0; c < cols; c++) {
            long g = gi + c / group;
            float s = scales.get(F32, g * 4);
            int z = b(zeros, g) & 0xFF;
            sum += (nibble(w, row + (c >>> 5) * 16L, c & 31) - z) * s * x[xo + c];
        }
        return sum;
    }

    static float int8Scale(MemorySegment scales, int r) {
        return scales.get(F32, r * 4L);
    }
}
