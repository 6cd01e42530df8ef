package dev.llmplatform.engine.cpu;

import dev.llmplatform.engine.model.DType;
import dev.llmplatform.engine.model.ModelLoadException;
import dev.llmplatform.engine.model.Tensor;
import java.lang.foreign.MemorySegment;

/**
 * A weight matrix that maps an input vector of {@code cols} floats to an output of {@code rows} floats,
 * read in place from its (memory-mapped) segment, in one of the {@link WeightFormat}s.
 *
 * @param dtype      the element type of {@code data}: F32/F16/BF16, GGUF's Q8_0/Q4_0, I8 for {@link WeightFormat#INT8},
 *                   U8 (two 4-bit values a byte) for {@link WeightFormat#INT4}
 * @param inputMajor false: stored row-major as [rows][cols] (PyTorch's nn.Linear); true: stored as [cols][rows]
 *                   (GPT-2's Conv1D, which keeps the transpose); quantized formats are always row-major
 * @param quant      scales and zero points of INT8/INT4 matrices, null otherwise
 */
public record WeightMatrix(String name, MemorySegment data, DType dtype, int rows, int cols, boolean inputMajor,
                           QuantParams quant) {

    /**
     * The side tables of our own quantized formats.
     *
     * @param scales    INT8: f32 [rows]; INT4: f32 [rows][groups]
     * @param zeros     INT4: u8 [rows][groups]; null for INT8
     * @param groupSize INT4: columns per group (32, 64 or 128); 0 for INT8
     */
    public record QuantParams(MemorySegment scales, MemorySegment zeros, int groupSize) {
    }

    public WeightMatrix {
        if (quant == null && !dtype.isWeightFloat() && !dtype.isBlockQuantized()) {
            throw new ModelLoadException("tensor " + name + " has dtype " + dtype
                    + "; the CPU kernels read F32, F16, BF16, Q8_0 or Q4_0 weights (or INT8/INT4 with scales)");
        }
        if (quant != null && dtype != DType.I8 && dtype != DType.U8) {
            throw new ModelLoadException("tensor " + name + " has scales but dtype " + dtype + "; expected I8 (int8) or U8 (int4)");
        }
        if ((dtype.isBlockQuantized() || quant != null) && inputMajor) {
            throw new ModelLoadException("tensor " + name + ": quantized weights are stored row-major ([out][in])");
        }
        if (dtype.isBlockQuantized() && cols % dtype.blockElements() != 0) {
            throw new ModelLoadException("tensor " + name + " is " + dtype + " with rows of " + cols
                    + " values, not a whole number of blocks of " + dtype.blockElements());
        }
        long expected = dtype == DType.U8 ? (long) rows * cols / 2 : (long) rows * dtype.byteSize(cols);
        if (data.byteSize() != expected) {
            throw new ModelLoadException("tensor " + name + " has " + data.byteSize() + " bytes, expected " + expected);
        }
        if (quant != null) {
            checkQuant(name, dtype, rows, cols, quant);
        }
    }

    private static void checkQuant(String name, DType dtype, int rows, int cols, QuantParams q) {
        if (dtype == DType.I8) {
            if (q.scales().byteSize() != 4L * rows) {
                throw new ModelLoadException("tensor " + name + "_scale has " + q.scales().byteSize() + " bytes, expected "
                        + 4L * rows + " (one f32 per output row)");
            }
            return;
        }
        int g = q.groupSize();
        if (g <= 0 || g % 32 != 0 || cols % 32 != 0) {
            throw new ModelLoadException("tensor " + name + ": int4 needs a group size that is a multiple of 32 and rows of a "
                    + "multiple of 32 values (group " + g + ", row " + cols + ")");
        }
        long groups = groups(cols, g);
        if (q.scales().byteSize() != 4L * rows * groups || q.zeros() == null || q.zeros().byteSize() != (long) rows * groups) {
            throw new ModelLoadException("tensor " + name + ": int4 scales/zero points have " + q.scales().byteSize() + "/"
                    + (q.zeros() == null ? 0 : q.zeros().byteSize()) + " bytes, expected " + 4L * rows * groups + "/"
                    + (long) rows * groups + " (" + groups + " groups of " + g + " per row)");
        }
    }

    /** Groups per row: the last one is shorter when {@code group} does not divide {@code cols}. */
    public static int groups(int cols, int group) {
        return (cols + group - 1) / group;
    }

    public WeightMatrix(String name, MemorySegment data, DType dtype, int rows, int cols, boolean inputMajor) {
        this(name, data, dtype, rows, cols, inputMajor, null);
    }

    /** An nn.Linear weight of shape [out, in] (float, or GGUF Q8_0/Q4_0 blocks). */
    public static WeightMatrix linear(Tensor t) {
        return new WeightMatrix(t.name(), t.data(), t.dtype(), t.dim(0), t.dim(1), false);
    }

    /** A Conv1D weight of shape [in, out] (GPT-2). */
    public static WeightMatrix conv1d(Tensor t) {
        return new WeightMatrix(t.name(), t.data(), t.dtype(), t.dim(1), t.dim(0), true);
    }

    /** {@link WeightFormat#INT8}: int8 [rows][cols] and f32 scales [rows]. */
    public static WeightMatrix int8(String name, MemorySegment q, MemorySegment scales, int rows, int cols) {
        return new WeightMatrix(name, q, DType.I8, rows, cols, false, new QuantParams(scales, null, 0));
    }

    /** {@link WeightFormat#INT4}: packed nibbles [rows][cols/2], f32 scales and u8 zero points [rows][groups]. */
    public static WeightMatrix int4(String name, MemorySegment q, MemorySegment scales, MemorySegment zeros,
                                    int rows, int cols, int groupSize) {
        return new WeightMatrix(name, q, DType.U8, rows, cols, false, new QuantParams(scales, zeros, groupSize));
    }

    public WeightFormat format() {
        return switch (dtype) {
            case F32 -> WeightFormat.F32;
            case F16 -> WeightFormat.F16;
            case BF16 -> WeightFormat.BF16;
            case Q8_0 -> WeightFormat.Q8_0;
            case Q4_0 -> WeightFormat.Q4_0;
            case I8 -> WeightFormat.INT8;
            case U8 -> WeightFormat.INT4;
            default -> throw new IllegalStateException("no weight format for " + dtype);
        };
    }

    /** Bytes one product reads: the values and their scales and zero points. */
    public long bytes() {
        long n = data.byteSize();
        if (quant != null) {
            n += quant.scales().byteSize() + (quant.zeros() == null ? 0 : quant.zeros().byteSize());
        }
        return n;
    }
}
