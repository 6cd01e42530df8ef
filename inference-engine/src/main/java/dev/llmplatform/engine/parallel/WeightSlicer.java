package dev.llmplatform.engine.parallel;

import dev.llmplatform.engine.cpu.WeightMatrix;
import dev.llmplatform.engine.model.DType;
import dev.llmplatform.engine.model.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Cuts {@link WeightMatrix}es (and embedding tables) into the pieces a rank holds, in every format the kernels read.
 *
 * <p>Output rows (column-parallel products: whole heads, MLP columns, vocabulary rows) are contiguous bytes in
 * every row-major format, with their scales and zero points beside them; input columns (row-parallel products) are a
 * strided piece of each row, copied row by row; for an input-major matrix (GPT-2's Conv1D) the roles swap.
 *
 * <p>Every piece is copied into the arena, even a contiguous one that could stay a view of the mapped file: the
 * Vector API compiles a kernel's segment loads to vector instructions only when a single segment class reaches them,
 * and a mix of mapped views and copies makes C2 fall back to boxed vectors (measured: 0.5 MB of garbage per decode
 * step of kjv-demo at TP=2, against none). So a split model lives in the process's memory, one copy, and the mapped
 * file is read once. (A built {@code --tp} engine's rank files are all mapped, which is uniform too.)
 *
 * <p>Quantized rows are cut only between groups: GGUF's Q8_0/Q4_0 blocks of 32 values, INT4's groups of
 * {@code groupSize} (each with its scale and zero point), so that every piece dequantizes as the whole did. INT8's
 * scale belongs to a whole output row, so any column cut works and each piece keeps the row scales. Copies live in
 * the arena given, which must outlive the pieces.
 */
final class WeightSlicer {
    private final Arena arena;

    WeightSlicer(Arena arena) {
        this.arena = arena;
    }

    /** Output rows {@code [from, to)}. */
    WeightMatrix rows(WeightMatrix w, int from, int to) {
        return rows(w, new int[] {from}, new int[] {to - from});
    }

    /** The output rows of the runs {@code [starts[i], starts[i] + lengths[i])}, in that order. */
    WeightMatrix rows(WeightMatrix w, int[] starts, int[] lengths) {
        int n = Arrays.stream(lengths).sum();
        if (w.inputMajor()) {
            long es = w.dtype().byteSize(1);
            MemorySegment out = arena.allocate(es * n * w.cols(), 64);
            long dst = 0;
            for (int c = 0; c < w.cols(); c++) {
                for (int i = 0; i < starts.length; i++) {
                    long len = es * lengths[i];
                    MemorySegment.copy(w.data(), ((long) c * w.rows() + starts[i]) * es, out, dst, len);
                    dst += len;
                }
            }
            return new WeightMatrix(w.name(), out, w.dtype(), n, w.cols(), true);
        }
        long rowBytes = rowBytes(w, w.cols());
        MemorySegment data = gatherRows(w.data(), rowBytes, starts, lengths);
        WeightMatrix.QuantParams q = w.quant();
        if (q == null) {
            return new WeightMatrix(w.name(), data, w.dtype(), n, w.cols(), false);
        }
        long groups = q.zeros() == null ? 1 : WeightMatrix.groups(w.cols(), q.groupSize());
        MemorySegment scales = gatherRows(q.scales(), 4 * groups, starts, lengths);
        MemorySegment zeros = q.zeros() == null ? null : gatherRows(q.zeros(), groups, starts, lengths);
        return new WeightMatrix(w.name(), data, w.dtype(), n, w.cols(), false,
                new WeightMatrix.QuantParams(scales, zeros, q.groupSize()));
    }

    /** Input columns {@code [from, to)}; refuses a cut inside a quantization block or group. */
    WeightMatrix cols(WeightMatrix w, int from, int to, int ranks) {
        int n = to - from;
        if (w.inputMajor()) {
            long es = w.dtype().byteSize(1);
            MemorySegment piece = copy(w.data().asSlice((long) from * w.rows() * es, (long) n * w.rows() * es));
            return new WeightMatrix(w.name(), piece, w.dtype(), w.rows(), n, true);
        }
        int unit = w.dtype().isBlockQuantized() ? w.dtype().blockElements() : w.quant() != null && w.quant().zeros() != null
                ? w.quant().groupSize() : 1;
        for (int cut : new int[] {from, to}) {
            if (cut % unit != 0 && cut != w.cols()) {
                throw new IllegalArgumentException("cannot split " + w.name() + " (" + w.cols() + " input columns) over "
                        + ranks + " ranks: the cut at column " + cut + " falls inside a "
                        + (w.dtype().isBlockQuantized() ? "block" : "group") + " of " + unit + " values (" + w.format()
                        + "); quantized weights "
                        + "shard only on group boundaries (use a tensor-parallel size for which " + w.cols() + " / size is a "
                        + "multiple of " + unit + ", or an INT8 or unquantized engine)");
            }
        }
        long rowBytes = rowBytes(w, w.cols());
        long offset = rowBytes(w, from);
        long pieceBytes = rowBytes(w, to) - offset;
        MemorySegment data = arena.allocate(pieceBytes * w.rows(), 64);
        for (long r = 0; r < w.rows(); r++) {
            MemorySegment.copy(w.data(), r * rowBytes + offset, data, r * pieceBytes, pieceBytes);
        }
        WeightMatrix.QuantParams q = w.quant();
        if (q == null) {
            return new WeightMatrix(w.name(), data, w.dtype(), w.rows(), n, false);
        }
        if (q.zeros() == null) { // INT8: one scale per output row, the same for every piece
            return new WeightMatrix(w.name(), data, w.dtype(), w.rows(), n, false,
                    new WeightMatrix.QuantParams(copy(q.scales()), null, 0));
        }
        int g = q.groupSize();
        long groups = WeightMatrix.groups(w.cols(), g);
        long g0 = from / g;
        long pieceGroups = WeightMatrix.groups(n, g);
        MemorySegment scales = arena.allocate(4 * pieceGroups * w.rows(), 64);
        MemorySegment zeros = arena.allocate(pieceGroups * w.rows(), 64);
        for (long r = 0; r < w.rows(); r++) {
            MemorySegment.copy(q.scales(), 4 * (r * groups + g0), scales, 4 * r * pieceGroups, 4 * pieceGroups);
            MemorySegment.copy(q.zeros(), r * groups + g0, zeros, r * pieceGroups, pieceGroups);
        }
        return new WeightMatrix(w.name(), data, w.dtype(), w.rows(), n, false, new WeightMatrix.QuantParams(scales, zeros, g));
    }

    /** Rows {@code [from, to)} of a [rows, cols] table (the token embedding, read by rows, not by the kernels): a view. */
    static Tensor rows(Tensor t, int from, int to) {
        long cols = t.shape()[1];
        MemorySegment view = t.data().asSlice(t.dtype().byteSize(from * cols), t.dtype().byteSize((to - from) * cols));
        return new Tensor(t.name(), t.dtype(), new long[] {to - from, cols}, view, t.file());
    }

    /** Bytes of the first {@code cols} values of a row-major row (INT4 packs two values a byte). */
    private static long rowBytes(WeightMatrix w, int cols) {
        return w.dtype() == DType.U8 ? cols / 2 : w.dtype().byteSize(cols);
    }

    private MemorySegment gatherRows(MemorySegment src, long rowBytes, int[] starts, int[] lengths) {
        MemorySegment out = arena.allocate(rowBytes * Arrays.stream(lengths).sum(), 64);
        long dst = 0;
        for (int i = 0; i < starts.length; i++) {
            long len = lengths[i] * rowBytes;
            MemorySegment.copy(src, starts[i] * rowBytes, out, dst, len);
            dst += len;
        }
        return out;
    }

    private MemorySegment copy(MemorySegment src) {
        MemorySegment out = arena.allocate(src.byteSize(), 64);
        MemorySegment.copy(src, 0, out, 0, src.byteSize());
        return out;
    }

    static float[] slice(float[] v, int from, int to) {
        return v == null ? null : Arrays.copyOfRange(v, from, to);
    }

    static float[] gather(float[] v, int[] starts, int[] lengths) {
        if (v == null) {
            return null;
        }
        float[] out = new float[Arrays.stream(lengths).sum()];
        int d = 0;
        for (int i = 0; i < starts.length; i++) {
            System.arraycopy(v, starts[i], out, d, lengths[i]);
            d += lengths[i];
        }
        return out;
    }
}
