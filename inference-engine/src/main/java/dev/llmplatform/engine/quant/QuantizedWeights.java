package dev.llmplatform.engine.quant;

import dev.llmplatform.engine.cpu.WeightMatrix;
import dev.llmplatform.engine.model.Checkpoint;
import dev.llmplatform.engine.model.DType;
import dev.llmplatform.engine.model.ModelLoadException;
import dev.llmplatform.engine.model.Tensor;

/**
 * How an engine directory written by {@code build} stores a quantized matrix in safetensors, beside the tensors
 * it leaves alone, and how it is read back (memory-mapped, in place), under the matrix's own name:
 * <ul>
 *   <li>INT8: {@code NAME} I8 [rows, cols], {@code NAME_scale} F32 [rows].
 *   <li>INT4: {@code NAME} U8 [rows, cols/2] (two 4-bit values a byte, in chunks of 32 columns: byte j of a chunk
 *       holds column j low and j + 16 high), {@code NAME_scale} F32 [rows, groups], {@code NAME_zero_point} U8
 *       [rows, groups]; the group size is config.json's {@code quantization_config.group_size}.
 * </ul>
 * These are the names compressed-tensors uses for the same roles; the layout is ours (the CPU kernels').
 */
public final class QuantizedWeights {
    public static final String SCALE = "_scale";
    public static final String ZERO_POINT = "_zero_point";

    private QuantizedWeights() {
    }

    public static boolean isQuantized(Checkpoint ckpt, String name) {
        return ckpt.has(name + SCALE);
    }

    public static WeightMatrix read(Checkpoint ckpt, String name, int rows, int cols) {
        Tensor q = ckpt.tensors().get(name);
        if (q == null) {
            throw new ModelLoadException("tensor " + name + " is missing from " + ckpt.dir() + " (its " + name + SCALE + " is there)");
        }
        if (q.dtype() == DType.I8) {
            ckpt.tensor(name, rows, cols);
            Tensor s = ckpt.tensor(name + SCALE, rows);
            requireDtype(s, DType.F32);
            return WeightMatrix.int8(name, q.data(), s.data(), rows, cols);
        }
        if (q.dtype() == DType.U8) {
            int group = ckpt.config().child("quantization_config").intOr(0, "group_size");
            if (group <= 0 || group % 32 != 0) {
                throw new ModelLoadException(ckpt.config().file() + ": quantization_config.group_size is " + group
                        + "; int4 weights need a multiple of 32");
            }
            int groups = WeightMatrix.groups(cols, group);
            ckpt.tensor(name, rows, cols / 2);
            Tensor s = ckpt.tensor(name + SCALE, rows, groups);
            Tensor z = ckpt.tensor(name + ZERO_POINT, rows, groups);
            requireDtype(s, DType.F32);
            requireDtype(z, DType.U8);
            return WeightMatrix.int4(name, q.data(), s.data(), z.data(), rows, cols, group);
        }
        throw new ModelLoadException("tensor " + name + " has scales but dtype " + q.dtype() + "; expected I8 (int8) or U8 (int4)");
    }

    private static void requireDtype(Tensor t, DType d) {
        if (t.dtype() != d) {
            throw new ModelLoadException("tensor " + t.name() + " is " + t.dtype() + ", expected " + d);
        }
    }
}
