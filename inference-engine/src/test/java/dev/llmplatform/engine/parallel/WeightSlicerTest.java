package dev.llmplatform.engine.parallel;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.llmplatform.engine.cpu.MatMul;
import dev.llmplatform.engine.cpu.WeightMatrix;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.DType;
import dev.llmplatform.engine.quant.GgmlQuantizer;
import dev.llmplatform.engine.quant.Int4GroupQuantizer;
import dev.llmplatform.engine.quant.Int8ChannelQuantizer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every weight format cut both ways, checked through the kernels themselves: the products of input-column pieces
 * add up to the whole product (what the all-reduce relies on), and a selection of output rows computes exactly those
 * rows of it; a cut inside a quantization group is refused.
 */
class WeightSlicerTest {
    private static final int ROWS = 24;
    private static final int COLS = 128;
    private static final WorkerPool POOL = new WorkerPool(2);
    private static final Arena ARENA = Arena.ofShared();

    @AfterAll
    static void close() {
        POOL.close();
        ARENA.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "BF16", "F16", "F32_INPUT_MAJOR", "INT8", "INT4", "Q8_0", "Q4_0"})
    void piecesComputeWhatTheWholeMatrixComputes(String format) {
        WeightMatrix w = matrix(format);
        float[] x = random(new Random(7), COLS);
        float[] whole = product(w, x);
        WeightSlicer slicer = new WeightSlicer(ARENA);

        float[] sum = new float[ROWS];
        for (int[] cut : new int[][] {{0, 64}, {64, 128}}) {
            float[] part = product(slicer.cols(w, cut[0], cut[1], 2), slice(x, cut[0], cut[1]));
            for (int r = 0; r < ROWS; r++) {
                sum[r] += part[r];
            }
        }
        assertClose(format + " column pieces", whole, sum);

        int[] starts = {2, 13, 20};
        int[] lengths = {3, 5, 4};
        float[] picked = product(slicer.rows(w, starts, lengths), x);
        float[] expected = new float[picked.length];
        int k = 0;
        for (int i = 0; i < starts.length; i++) {
            for (int r = starts[i]; r < starts[i] + lengths[i]; r++) {
                expected[k++] = whole[r];
            }
        }
        assertClose(format + " row selection", expected, picked);
    }

    @Test
    void aCutInsideAGroupIsRefused() {
        WeightSlicer slicer = new WeightSlicer(ARENA);
        String q8 = assertThrows(IllegalArgumentException.class, () -> slicer.cols(matrix("Q8_0"), 0, 48, 3)).getMessage();
        assertTrue(q8.contains("the cut at column 48 falls inside a block of 32 values (Q8_0)"), q8);
        String int4 = assertThrows(IllegalArgumentException.class, () -> slicer.cols(matrix("INT4"), 32, 64, 4)).getMessage();
        assertTrue(int4.contains("the cut at column 32 falls inside a group of 64 values (INT4)"), int4);
        slicer.cols(matrix("INT8"), 0, 48, 3); // one scale per output row: any cut works
    }

    private static float[] product(WeightMatrix w, float[] x) {
        float[] out = new float[w.rows()];
        new MatMul(POOL).apply(w, x, 0, x.length, out, 0, w.rows(), 1, null);
        return out;
    }

    private static void assertClose(String what, float[] expected, float[] actual) {
        for (int i = 0; i < expected.length; i++) {
            assertTrue(Math.abs(expected[i] - actual[i]) <= 1e-5 * (1 + Math.abs(expected[i])),
                    what + ": row " + i + " is " + actual[i] + ", expected " + expected[i]);
        }
    }

    private static float[] slice(float[] a, int from, int to) {
        return java.util.Arrays.copyOfRange(a, from, to);
    }

    private static float[] random(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian() * 0.1f;
        }
        return a;
    }

    private static MemorySegment bytes(byte[] b) {
        MemorySegment s = ARENA.allocate(b.length);
        MemorySegment.copy(b, 0, s, ValueLayout.JAVA_BYTE, 0, b.length);
        return s;
    }

    private static MemorySegment floats(float[] f) {
        MemorySegment s = ARENA.allocate(4L * f.length);
        MemorySegment.copy(f, 0, s, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, f.length);
        return s;
    }

    /** A {@code ROWS x COLS} random matrix in {@code format}. */
    private static WeightMatrix matrix(String format) {
        Random rnd = new Random(format.hashCode());
        float[][] rows = new float[ROWS][];
        for (int r = 0; r < ROWS; r++) {
            rows[r] = random(rnd, COLS);
        }
        switch (format) {
            case "F32", "BF16", "F16" -> {
                DType d = DType.valueOf(format);
                MemorySegment s = ARENA.allocate(d.byteSize((long) ROWS * COLS));
                for (int r = 0; r < ROWS; r++) {
                    for (int c = 0; c < COLS; c++) {
                        long i = (long) r * COLS + c;
                        float v = rows[r][c];
                        switch (d) {
                            case F32 -> s.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4 * i, v);
                            case BF16 -> s.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2 * i,
                                    (short) (Float.floatToRawIntBits(v) >>> 16));
                            default -> s.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2 * i,
                                    Float.floatToFloat16(v));
                        }
                    }
                }
                return new WeightMatrix("w", s, d, ROWS, COLS, false);
            }
            case "F32_INPUT_MAJOR" -> {
                float[] t = new float[ROWS * COLS];
                for (int r = 0; r < ROWS; r++) {
                    for (int c = 0; c < COLS; c++) {
                        t[c * ROWS + r] = rows[r][c];
                    }
                }
                return new WeightMatrix("w", floats(t), DType.F32, ROWS, COLS, true);
            }
            case "INT8" -> {
                byte[] q = new byte[ROWS * COLS];
                float[] scales = new float[ROWS];
                for (int r = 0; r < ROWS; r++) {
                    scales[r] = Int8ChannelQuantizer.quantizeRow(rows[r], COLS, q, r * COLS);
                }
                return WeightMatrix.int8("w", bytes(q), floats(scales), ROWS, COLS);
            }
            case "INT4" -> {
                int group = 64;
                int groups = COLS / group;
                byte[] packed = new byte[ROWS * COLS / 2];
                float[] scales = new float[ROWS * groups];
                byte[] zeros = new byte[ROWS * groups];
                for (int r = 0; r < ROWS; r++) {
                    Int4GroupQuantizer.quantizeRow(rows[r], COLS, group, packed, r * COLS / 2, scales, zeros, r * groups);
                }
                return WeightMatrix.int4("w", bytes(packed), floats(scales), bytes(zeros), ROWS, COLS, group);
            }
            default -> {
                boolean q8 = format.equals("Q8_0");
                int rowBytes = COLS / 32 * (q8 ? 34 : 18);
                byte[] data = new byte[ROWS * rowBytes];
                for (int r = 0; r < ROWS; r++) {
                    if (q8) {
                        GgmlQuantizer.quantizeQ8_0(rows[r], COLS, data, r * rowBytes);
                    } else {
                        GgmlQuantizer.quantizeQ4_0(rows[r], COLS, data, r * rowBytes);
                    }
                }
                return new WeightMatrix("w", bytes(data), q8 ? DType.Q8_0 : DType.Q4_0, ROWS, COLS, false);
            }
        }
    }
}
