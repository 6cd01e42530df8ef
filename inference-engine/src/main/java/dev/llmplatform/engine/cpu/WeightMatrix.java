package dev.llmplatform.engine.cpu;

import dev.llmplatform.engine.model.DType;
import dev.llmplatform.engine.model.ModelLoadException;
import dev.llmplatform.engine.model.Tensor;
import java.lang.foreign.MemorySegment;

/**
 * A weight matrix that maps an input vector of {@code cols} floats to an output of {@code rows} floats,
 * read in place from its (memory-mapped) segment.
 *
 * @param inputMajor false: stored row-major as [rows][cols] (PyTorch's nn.Linear); true: stored as [cols][rows]
 *                   (GPT-2's Conv1D, which keeps the transpose)
 */
public record WeightMatrix(String name, MemorySegment data, DType dtype, int rows, int cols, boolean inputMajor) {

    public WeightMatrix {
        if (!dtype.isWeightFloat()) {
            throw new ModelLoadException("tensor " + name + " has dtype " + dtype + "; the CPU kernels read F32, F16 or BF16 weights");
        }
        long expected = (long) rows * cols * dtype.bytes();
        if (data.byteSize() != expected) {
            throw new ModelLoadException("tensor " + name + " has " + data.byteSize() + " bytes, expected " + expected);
        }
    }

    /** An nn.Linear weight of shape [out, in]. */
    public static WeightMatrix linear(Tensor t) {
        return new WeightMatrix(t.name(), t.data(), t.dtype(), t.dim(0), t.dim(1), false);
    }

    /** A Conv1D weight of shape [in, out] (GPT-2). */
    public static WeightMatrix conv1d(Tensor t) {
        return new WeightMatrix(t.name(), t.data(), t.dtype(), t.dim(1), t.dim(0), true);
    }

    public long bytes() {
        return data.byteSize();
    }
}
