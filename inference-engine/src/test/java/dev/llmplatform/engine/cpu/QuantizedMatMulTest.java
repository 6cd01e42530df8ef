package dev.llmplatform.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.llmplatform.engine.model.DType;
import dev.llmplatform.engine.quant.GgmlQuantizer;
import dev.llmplatform.engine.quant.Int4GroupQuantizer;
import dev.llmplatform.engine.quant.Int8ChannelQuantizer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every quantized kernel, vector and scalar, against dequantize-then-float math: the weights are quantized, the
 * quantized values dequantized back to floats, and the product computed in double precision from those floats.
 * Widths cover several blocks, a last INT4 group shorter than the group size (864 = 6 x 128 + 96), and a width
 * that is no multiple of the vector length (INT8); token counts cover tiles of four and leftovers.
 */
class QuantizedMatMulTest {
    private static final WorkerPool POOL = new WorkerPool(2);
    private static final Arena ARENA = Arena.ofShared();

    @AfterAll
    static void close() {
        POOL.close();
        ARENA.close();
    }

    /** A quantized matrix and the floats it stands for. */
    private record Case(WeightMatrix w, float[] dequantized) {
    }

    private static float[] random(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian() * (i % 97 == 0 ? 0.3f : 0.05f); // a few outliers per row
        }
        return a;
    }

    private static MemorySegment segment(byte[] bytes) {
        MemorySegment s = ARENA.allocate(bytes.length);
        MemorySegment.copy(bytes, 0, s, ValueLayout.JAVA_BYTE, 0, bytes.length);
        return s;
    }

    static Case make(String format, int rows, int cols, int group, long seed) {
        Random rnd = new Random(seed);
        float[] deq = new float[rows * cols];
        float[] row = new float[cols];
        switch (format) {
            case "Q8_0", "Q4_0" -> {
                boolean q8 = format.equals("Q8_0");
                int rowBytes = cols / 32 * (q8 ? 34 : 18);
                byte[] data = new byte[rows * rowBytes];
                float[] back = new float[cols];
                for (int r = 0; r < rows; r++) {
                    row = random(rnd, cols);
                    if (q8) {
                        GgmlQuantizer.quantizeQ8_0(row, cols, data, r * rowBytes);
                        GgmlQuantizer.dequantizeQ8_0(data, r * rowBytes, cols, back);
                    } else {
                        GgmlQuantizer.quantizeQ4_0(row, cols, data, r * rowBytes);
                        GgmlQuantizer.dequantizeQ4_0(data, r * rowBytes, cols, back);
                    }
                    System.arraycopy(back, 0, deq, r * cols, cols);
                }
                return new Case(new WeightMatrix("w", segment(data), q8 ? DType.Q8_0 : DType.Q4_0, rows, cols, false), deq);
            }
            case "INT8" -> {
                byte[] q = new byte[rows * cols];
                MemorySegment scales = ARENA.allocate(4L * rows);
                for (int r = 0; r < rows; r++) {
                    row = random(rnd, cols);
                    float s = Int8ChannelQuantizer.quantizeRow(row, cols, q, r * cols);
                    scales.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, r, s);
                    for (int c = 0; c < cols; c++) {
                        deq[r * cols + c] = q[r * cols + c] * s;
                    }
                }
                return new Case(WeightMatrix.int8("w", segment(q), scales, rows, cols), deq);
            }
            default -> {
                int groups = Int4GroupQuantizer.groups(cols, group);
                byte[] packed = new byte[rows * cols / 2];
                float[] scales = new float[rows * groups];
                byte[] zeros = new byte[rows * groups];
                float[] back = new float[cols];
                for (int r = 0; r < rows; r++) {
                    row = random(rnd, cols);
                    Int4GroupQuantizer.quantizeRow(row, cols, group, packed, r * cols / 2, scales, zeros, r * groups);
                    Int4GroupQuantizer.dequantizeRow(packed, r * cols / 2, scales, zeros, r * groups, cols, group, back);
                    System.arraycopy(back, 0, deq, r * cols, cols);
                }
                MemorySegment s = ARENA.allocate(4L * scales.length);
                MemorySegment.copy(scales, 0, s, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, scales.length);
                return new Case(WeightMatrix.int4("w", segment(packed), s, segment(zeros), rows, cols, group), deq);
            }
        }
    }

    @ParameterizedTest(name = "{0} {1}x{2} group {3}, {4} tokens")
    @CsvSource({
            "Q8_0, 37, 320, 0, 1", "Q8_0, 37, 864, 0, 7", "Q8_0, 16, 2048, 0, 4",
            "Q4_0, 37, 320, 0, 1", "Q4_0, 37, 864, 0, 7", "Q4_0, 16, 2048, 0, 5",
            "INT8, 37, 320, 0, 1", "INT8, 37, 867, 0, 6", "INT8, 5, 3, 0, 4",
            "INT4, 37, 320, 32, 1", "INT4, 37, 864, 64, 7", "INT4, 37, 864, 128, 3", "INT4, 9, 2048, 128, 4",
    })
    void kernelsMatchDequantizedFloatMath(String format, int rows, int cols, int group, int tokens) {
        Case c = make(format, rows, cols, group, 42 + rows * 31L + cols);
        Random rnd = new Random(7);
        int inStride = cols + 3; // rows of the batch need not be packed
        float[] in = new float[tokens * inStride + 1];
        for (int i = 0; i < in.length; i++) {
            in[i] = (float) rnd.nextGaussian();
        }
        float[] bias = new float[rows];
        for (int r = 0; r < rows; r++) {
            bias[r] = r * 0.25f;
        }
        int outStride = rows + 2;
        float[] vec = new float[tokens * outStride + 1];
        float[] sca = new float[tokens * outStride + 1];
        QuantizedMatMul q = new QuantizedMatMul(POOL);
        q.apply(c.w(), in, 1, inStride, vec, 1, outStride, tokens, bias, true);
        q.apply(c.w(), in, 1, inStride, sca, 1, outStride, tokens, bias, false);
        float[] viaMatMul = new float[tokens * outStride + 1];
        new MatMul(POOL).apply(c.w(), in, 1, inStride, viaMatMul, 1, outStride, tokens, bias);
        for (int t = 0; t < tokens; t++) {
            for (int r = 0; r < rows; r++) {
                double ref = bias[r];
                double mag = Math.abs(bias[r]);
                for (int k = 0; k < cols; k++) {
                    double p = (double) c.dequantized()[r * cols + k] * in[1 + t * inStride + k];
                    ref += p;
                    mag += Math.abs(p);
                }
                double tol = 2e-6 * mag + 1e-6;
                int o = 1 + t * outStride + r;
                assertEquals(ref, vec[o], tol, format + " vector, token " + t + " row " + r);
                assertEquals(ref, sca[o], tol, format + " scalar, token " + t + " row " + r);
                assertEquals(vec[o], viaMatMul[o], 0f, "MatMul routes " + format + " to the quantized kernels");
            }
        }
        assertEquals(0f, vec[0], "nothing written before outOff");
    }

    @Test
    void int4KeepsTheRowsRangeAndZero() {
        float[] row = new float[64];
        for (int i = 0; i < 64; i++) {
            row[i] = i < 32 ? 0.01f * i : -0.5f + i * 0.001f;
        }
        byte[] packed = new byte[32];
        float[] scales = new float[2];
        byte[] zeros = new byte[2];
        Int4GroupQuantizer.quantizeRow(row, 64, 32, packed, 0, scales, zeros, 0);
        float[] back = new float[64];
        Int4GroupQuantizer.dequantizeRow(packed, 0, scales, zeros, 0, 64, 32, back);
        assertEquals(0f, back[0], 0f, "zero stays exactly zero");
        for (int i = 0; i < 64; i++) {
            float step = scales[i / 32];
            assertTrue(Math.abs(back[i] - row[i]) <= step / 2 + 1e-6, "value " + i + " within half a step");
        }
    }
}
