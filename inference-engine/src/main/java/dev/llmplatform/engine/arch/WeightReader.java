package dev.llmplatform.engine.arch;

import dev.llmplatform.engine.cpu.WeightMatrix;
import dev.llmplatform.engine.model.Checkpoint;
import dev.llmplatform.engine.model.Tensor;
import dev.llmplatform.engine.quant.QuantizedWeights;

/** Shape-checked access to a checkpoint's tensors in the forms the decoder uses. */
final class WeightReader {
    private final Checkpoint ckpt;

    WeightReader(Checkpoint ckpt) {
        this.ckpt = ckpt;
    }

    Checkpoint checkpoint() {
        return ckpt;
    }

    boolean has(String name) {
        return ckpt.has(name);
    }

    /** An nn.Linear weight [rows, cols]: float, GGUF blocks, or an engine's INT8/INT4 (see {@link QuantizedWeights}). */
    WeightMatrix linear(String name, int rows, int cols) {
        if (QuantizedWeights.isQuantized(ckpt, name)) {
            return QuantizedWeights.read(ckpt, name, rows, cols);
        }
        return WeightMatrix.linear(ckpt.tensor(name, rows, cols));
    }

    /** A Conv1D weight stored [cols, rows]; a quantized one was stored row-major by the builder, like a linear. */
    WeightMatrix conv1d(String name, int rows, int cols) {
        if (QuantizedWeights.isQuantized(ckpt, name)) {
            return QuantizedWeights.read(ckpt, name, rows, cols);
        }
        return WeightMatrix.conv1d(ckpt.tensor(name, cols, rows));
    }

    float[] vector(String name, int n) {
        return ckpt.tensor(name, n).toFloatArray();
    }

    /** A vector that may be absent (biases): null then. */
    float[] optionalVector(String name, int n) {
        Tensor t = ckpt.optional(name, n);
        return t == null ? null : t.toFloatArray();
    }

    Tensor tensor(String name, long... shape) {
        return ckpt.tensor(name, shape);
    }

    /** The LM head, or the token embedding when tied (or when the checkpoint omits the head). */
    WeightMatrix lmHead(String name, Tensor embedding, boolean tied) {
        if (!tied && ckpt.has(name)) {
            return linear(name, embedding.dim(0), embedding.dim(1));
        }
        if (!tied) {
            // Some checkpoints declare untied heads but ship none; transformers would fail, and so do we.
            ckpt.tensor(name, embedding.dim(0), embedding.dim(1));
        }
        return WeightMatrix.linear(embedding);
    }
}
