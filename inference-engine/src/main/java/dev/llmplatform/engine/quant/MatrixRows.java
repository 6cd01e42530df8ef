package dev.llmplatform.engine.quant;

import dev.llmplatform.engine.cpu.WeightMatrix;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Reads one output row of a float {@link WeightMatrix} (f32, f16, bf16; row- or input-major) as floats. */
final class MatrixRows {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private MatrixRows() {
    }

    static void read(WeightMatrix w, int r, float[] dst) {
        MemorySegment s = w.data();
        int cols = w.cols();
        for (int c = 0; c < cols; c++) {
            long i = w.inputMajor() ? (long) c * w.rows() + r : (long) r * cols + c;
            dst[c] = switch (w.dtype()) {
                case F32 -> s.get(F32, i * 4);
                case BF16 -> Float.intBitsToFloat((s.get(I16, i * 2) & 0xFFFF) << 16);
                case F16 -> Float.float16ToFloat(s.get(I16, i * 2));
                default -> throw new IllegalArgumentException("tensor " + w.name() + " is " + w.dtype()
                        + "; build quantizes float checkpoints (f32, f16, bf16)");
            };
        }
    }
}
