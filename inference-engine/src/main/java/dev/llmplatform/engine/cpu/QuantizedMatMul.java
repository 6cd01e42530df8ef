package dev.llmplatform.engine.cpu;

import java.lang.foreign.MemorySegment;

/**
 * {@link MatMul}'s products for quantized weights ({@link WeightFormat#isQuantized()}): rows are split among the
 * workers; each row is read once per tile of four tokens (prefill) and once for each leftover token, except that a
 * single token (decode) takes four rows at a time (two for Q4_0). The per-block sums of each token's activations
 * (per 32 columns for Q4_0, per group for INT4), which the 4-bit kernels use to take the zero point out of their
 * inner loop, are computed once per product. {@code -Dengine.quant.scalar=true} runs the scalar twins instead.
 *
 * <p>Not thread-safe (one product at a time, like MatMul); nothing is allocated once the sums buffer has grown.
 */
final class QuantizedMatMul implements WorkerPool.RangeTask {
    static final boolean VECTOR = QuantKernels.SUPPORTED && !Boolean.getBoolean("engine.quant.scalar");
    private static final int TILE = 4;

    private final WorkerPool pool;
    private float[] sums = new float[0];

    private WeightFormat format;
    private MemorySegment seg;
    private MemorySegment scales;
    private MemorySegment zeros;
    private int group;
    private int groups;
    private int cols;
    private int chunks;
    private float[] in;
    private int inOff;
    private int inStride;
    private float[] out;
    private int outOff;
    private int outStride;
    private int tokens;
    private float[] bias;
    private boolean vector;

    QuantizedMatMul(WorkerPool pool) {
        this.pool = pool;
    }

    void apply(WeightMatrix w, float[] in, int inOff, int inStride, float[] out, int outOff, int outStride,
               int tokens, float[] bias, boolean vector) {
        this.format = w.format();
        this.seg = w.data();
        this.cols = w.cols();
        this.chunks = cols >>> 5;
        if (w.quant() != null) {
            this.scales = w.quant().scales();
            this.zeros = w.quant().zeros();
            this.group = w.quant().groupSize();
            this.groups = format == WeightFormat.INT4 ? WeightMatrix.groups(cols, group) : 0;
        }
        this.in = in;
        this.inOff = inOff;
        this.inStride = inStride;
        this.out = out;
        this.outOff = outOff;
        this.outStride = outStride;
        this.tokens = tokens;
        this.bias = bias;
        this.vector = vector && QuantKernels.SUPPORTED;
        if (format == WeightFormat.Q4_0) {
            blockSums(32, chunks);
        } else if (format == WeightFormat.INT4) {
            blockSums(group, groups);
        }
        pool.parallelFor(w.rows(), Math.max(4, 8192 / Math.max(1, cols)), this);
        this.in = null;
        this.out = null;
        this.bias = null;
        this.seg = null;
        this.scales = null;
        this.zeros = null;
    }

    /** sums[t * count + k] = the sum of token t's activations over columns [k * width, (k + 1) * width). */
    private void blockSums(int width, int count) {
        int need = tokens * count;
        if (sums.length < need) {
            sums = new float[need];
        }
        for (int t = 0; t < tokens; t++) {
            int x = inOff + t * inStride;
            for (int k = 0; k < count; k++) {
                float s = 0f;
                for (int c = k * width, end = Math.min(cols, c + width); c < end; c++) {
                    s += in[x + c];
                }
                sums[t * count + k] = s;
            }
        }
    }

    @Override
    public void run(int from, int to, int worker) {
        if (tokens == 1 && vector && format != WeightFormat.Q4_0 && to - from >= 4) {
            // The decode case: four rows at a time, a quarter of the range apart (see QuantKernels on why apart).
            int q = (to - from) / 4;
            for (int i = 0; i < q; i++) {
                rows4(from + i, q);
            }
            from += 4 * q;
        }
        for (int r = from; r < to; r++) {
            if (tokens == 1 && vector && r + 1 < to && format == WeightFormat.Q4_0) {
                rows2(r);
                r++;
                continue;
            }
            int t = 0;
            if (vector) {
                for (; t + TILE <= tokens; t += TILE) {
                    tile(r, t);
                }
            }
            for (; t < tokens; t++) {
                out[outOff + t * outStride + r] = vector ? one(r, t) : scalar(r, t);
            }
            if (bias != null) {
                for (t = 0; t < tokens; t++) {
                    out[outOff + t * outStride + r] += bias[r];
                }
            }
        }
    }

    /** Rows r, r + rs, r + 2 rs, r + 3 rs of a single token. */
    private void rows4(int r, int rs) {
        int o = outOff + r;
        switch (format) {
            case Q8_0 -> QuantKernels.q8_0Rows4(seg, (long) r * chunks * 34, (long) rs * chunks * 34, chunks, in, inOff, out, o, rs);
            case INT8 -> QuantKernels.int8Rows4(seg, (long) r * cols, (long) rs * cols, cols, scales, r, rs, in, inOff, out, o);
            case INT4 -> QuantKernels.int4Rows4(seg, (long) r * chunks * 16, (long) rs * chunks * 16, scales, zeros, (long) r * groups,
                    groups, cols, group, in, inOff, sums, 0, out, o, rs);
            default -> throw new IllegalStateException(format + " has no four-row kernel");
        }
        if (bias != null) {
            for (int i = 0; i < 4; i++) {
                out[o + i * rs] += bias[r + i * rs];
            }
        }
    }

    private void rows2(int r) {
        int o = outOff + r;
        switch (format) {
            case Q4_0 -> QuantKernels.q4_0Rows2(seg, (long) r * chunks * 18, chunks * 18L, chunks, in, inOff, sums, 0, out, o);
            default -> throw new IllegalStateException(format + " has no two-row kernel");
        }
        if (bias != null) {
            out[o] += bias[r];
            out[o + 1] += bias[r + 1];
        }
    }

    private float one(int r, int t) {
        int x = inOff + t * inStride;
        return switch (format) {
            case Q8_0 -> QuantKernels.q8_0(seg, (long) r * chunks * 34, chunks, in, x);
            case Q4_0 -> QuantKernels.q4_0(seg, (long) r * chunks * 18, chunks, in, x, sums, t * chunks);
            case INT8 -> QuantKernels.int8(seg, (long) r * cols, cols, in, x) * QuantKernels.int8Scale(scales, r);
            case INT4 -> QuantKernels.int4(seg, (long) r * chunks * 16, scales, zeros, (long) r * groups, groups, cols, group,
                    in, x, sums, t * groups);
            default -> throw new IllegalStateException(format + " is not quantized");
        };
    }

    private void tile(int r, int t) {
        int x = inOff + t * inStride;
        int o = outOff + t * outStride + r;
        switch (format) {
            case Q8_0 -> QuantKernels.q8_0x4(seg, (long) r * chunks * 34, chunks, in, x, inStride, out, o, outStride);
            case Q4_0 -> QuantKernels.q4_0x4(seg, (long) r * chunks * 18, chunks, in, x, inStride, out, o, outStride);
            case INT8 -> QuantKernels.int8x4(seg, (long) r * cols, cols, QuantKernels.int8Scale(scales, r), in, x, inStride,
                    out, o, outStride);
            case INT4 -> QuantKernels.int4x4(seg, (long) r * chunks * 16, scales, zeros, (long) r * groups, cols, group,
                    in, x, inStride, out, o, outStride);
            default -> throw new IllegalStateException(format + " is not quantized");
        }
    }

    private float scalar(int r, int t) {
        int x = inOff + t * inStride;
        return switch (format) {
            case Q8_0 -> QuantKernelsScalar.q8_0(seg, (long) r * chunks * 34, chunks, in, x);
            case Q4_0 -> QuantKernelsScalar.q4_0(seg, (long) r * chunks * 18, chunks, in, x);
            case INT8 -> QuantKernelsScalar.int8(seg, (long) r * cols, cols, QuantKernelsScalar.int8Scale(scales, r), in, x);
            case INT4 -> QuantKernelsScalar.int4(seg, (long) r * chunks * 16, scales, zeros, (long) r * groups, cols, group,
                    in, x);
            default -> throw new IllegalStateException(format + " is not quantized");
        };
    }
}
