package dev.llmplatform.engine.model;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A named tensor whose bytes live in a memory-mapped file (never on the heap).
 *
 * @param data row-major, little-endian elements of {@code dtype}
 * @param file the file it was mapped from, for error messages
 */
public record Tensor(String name, DType dtype, long[] shape, MemorySegment data, Path file) {

    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    public int rank() {
        return shape.length;
    }

    public int dim(int i) {
        return Math.toIntExact(shape[i]);
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }

    /** Reads element {@code i} (flat index) as a float, whatever the float dtype. */
    public float getFloat(long i) {
        return switch (dtype) {
            case F32 -> data.get(F32_LE, i * 4);
            case BF16 -> Float.intBitsToFloat((data.get(I16_LE, i * 2) & 0xFFFF) << 16);
            case F16 -> Float.float16ToFloat(data.get(I16_LE, i * 2));
            case F64 -> (float) Double.longBitsToDouble(data.get(I64_LE, i * 8));
            case Q8_0 -> {
                long block = (i >>> 5) * 34;
                yield Float.float16ToFloat(data.get(I16_LE, block)) * data.get(ValueLayout.JAVA_BYTE, block + 2 + (i & 31));
            }
            case Q4_0 -> {
                long block = (i >>> 5) * 18;
                int j = (int) (i & 31);
                int packed = data.get(ValueLayout.JAVA_BYTE, block + 2 + (j & 15));
                int q = j < 16 ? packed & 0xF : (packed >> 4) & 0xF;
                yield Float.float16ToFloat(data.get(I16_LE, block)) * (q - 8);
            }
            default -> throw new IllegalStateException("tensor " + name + " has dtype " + dtype + ", not a float type");
        };
    }

    /** Reads element {@code i} as a long for integer tensors. */
    public long getLong(long i) {
        return switch (dtype) {
            case I64 -> data.get(I64_LE, i * 8);
            case I32 -> data.get(I32_LE, i * 4);
            default -> throw new IllegalStateException("tensor " + name + " has dtype " + dtype + ", not an integer type");
        };
    }

    /** Copies the whole tensor to a float array: only for small tensors (norms, biases, references). */
    public float[] toFloatArray() {
        long n = elementCount();
        if (n > Integer.MAX_VALUE - 16) {
            throw new IllegalStateException("tensor " + name + " is too large to copy to the heap");
        }
        float[] out = new float[(int) n];
        for (int i = 0; i < out.length; i++) {
            out[i] = getFloat(i);
        }
        return out;
    }

    public long[] toLongArray() {
        long[] out = new long[Math.toIntExact(elementCount())];
        for (int i = 0; i < out.length; i++) {
            out[i] = getLong(i);
        }
        return out;
    }
}
