package dev.llmplatform.engine.cpu;

import dev.llmplatform.engine.model.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Matrix products {@code out[t] = W · in[t] (+ bias)} for a batch of T token vectors, with W read in place from
 * its segment in f32, bf16 or f16, spread over the worker pool by output rows. Quantized weights (Q8_0, Q4_0,
 * INT8, INT4) go to {@link QuantizedMatMul}.
 *
 * <p>Layout of the hot loops. Rows of W are split into chunks, one chunk per task. Within a chunk, each row is
 * streamed once per tile of 4 tokens (so a prefill reads W from cache, not memory, for all but the first tile);
 * accumulators are vectors of L float lanes, reduced once per row. A single token (the decode step, which is
 * bound by memory bandwidth) reads four rows at once instead, so that four streams are in flight and the
 * multiply-adds of one row hide the load latency of the others.
 *
 * <p>bf16 and f16 rows are loaded as int vectors, each int holding two 16-bit weights (element 2j in the low
 * half, 2j+1 in the high half, little-endian). bf16 becomes float with one shift (low) and one mask (high); f16
 * with the classic exponent-rebias trick (shift into place, multiply by 2^112, which also handles subnormals,
 * then patch inf/NaN). To pair those even/odd lanes with the input, the input is first copied into
 * {@code xPerm}, where each block of 2L inputs is stored as its L even elements followed by its L odd elements.
 * Columns past the last full block are done in scalar code.
 *
 * <p>Not thread-safe: one product at a time (the pool runs one loop at a time anyway). Nothing is allocated per
 * call once the scratch buffers have grown to the largest batch seen.
 */
public final class MatMul {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final int L = F.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    private static final float TWO_POW_112 = 0x1p112f;
    private static final int TILE = 4;
    private static final int ROW_BLOCK = 16;

    private final WorkerPool pool;
    private float[] xPerm = new float[0];
    private final Task task = new Task();
    private final QuantizedMatMul quantized;

    public MatMul(WorkerPool pool) {
        this.pool = pool;
        this.quantized = new QuantizedMatMul(pool);
    }

    public WorkerPool pool() {
        return pool;
    }

    /**
     * {@code out[outOff + t*outStride + r] = sum_c W[r][c] * in[inOff + t*inStride + c] + bias[r]} for
     * t in [0, tokens), r in [0, rows).
     */
    public void apply(WeightMatrix w, float[] in, int inOff, int inStride, float[] out, int outOff, int outStride,
                      int tokens, float[] bias) {
        if (w.format().isQuantized()) {
            quantized.apply(w, in, inOff, inStride, out, outOff, outStride, tokens, bias, QuantizedMatMul.VECTOR);
            return;
        }
        Task k = task;
        k.w = w;
        k.seg = w.data();
        k.in = in;
        k.inOff = inOff;
        k.inStride = inStride;
        k.out = out;
        k.outOff = outOff;
        k.outStride = outStride;
        k.tokens = tokens;
        k.bias = bias;
        k.cols = w.cols();
        k.blocks = w.cols() / (2 * L);
        if (!w.inputMajor() && w.dtype() != DType.F32) {
            k.permStride = k.blocks * 2 * L;
            int need = tokens * k.permStride;
            if (xPerm.length < need) {
                xPerm = new float[need];
            }
            permute(in, inOff, inStride, tokens, k.blocks, xPerm);
            k.xPerm = xPerm;
        }
        if (k.scratch.length < pool.threads()) {
            k.scratch = new float[pool.threads()][];
        }
        int rows = w.rows();
        int grain = w.inputMajor() ? L * 4 : Math.max(1, 16384 / Math.max(1, w.cols()));
        pool.parallelFor(rows, grain, k);
        k.in = null;
        k.out = null;
        k.bias = null;
    }

    private static void permute(float[] in, int inOff, int inStride, int tokens, int blocks, float[] dst) {
        int stride = blocks * 2 * L;
        for (int t = 0; t < tokens; t++) {
            int src = inOff + t * inStride;
            int d = t * stride;
            for (int b = 0; b < blocks; b++) {
                int base = src + b * 2 * L;
                for (int j = 0; j < L; j++) {
                    dst[d + j] = in[base + 2 * j];
                    dst[d + L + j] = in[base + 2 * j + 1];
                }
                d += 2 * L;
            }
        }
    }

    private static final class Task implements WorkerPool.RangeTask {
        WeightMatrix w;
        MemorySegment seg;
        float[] in;
        int inOff;
        int inStride;
        float[] out;
        int outOff;
        int outStride;
        int tokens;
        float[] bias;
        int cols;
        int blocks;
        float[] xPerm;
        int permStride;
        float[][] scratch = new float[0][];

        @Override
        public void run(int from, int to, int worker) {
            if (w.inputMajor()) {
                inputMajor(from, to);
                return;
            }
            DType dt = w.dtype();
            // Batched path (4+ tokens): rows are converted to float32 in blocks of ROW_BLOCK into this worker's
            // scratch (in the same even/odd order as xPerm), then a register-blocked kernel multiplies 4 rows by 4
            // tokens at a time: 8 loads feed 16 multiply-adds, and the conversion is paid once per row per step.
            int fullTiles = tokens / TILE * TILE;
            if (fullTiles > 0) {
                float[] wS = scratch(worker, ROW_BLOCK * cols);
                for (int r0 = from; r0 < to; r0 += ROW_BLOCK) {
                    int r1 = Math.min(to, r0 + ROW_BLOCK);
                    convertRows(r0, r1, wS);
                    for (int t = 0; t < fullTiles; t += TILE) {
                        int r = r0;
                        for (; r + 4 <= r1; r += 4) {
                            block4x4(wS, (r - r0) * cols, r, t);
                        }
                        for (; r < r1; r++) {
                            block1x4(wS, (r - r0) * cols, r, t);
                        }
                    }
                }
            }
            for (int r = from; r < to; r++) {
                if (tokens == 1 && dt != DType.F32 && r + 3 < to) {
                    // The decode case: four rows at a time, four memory streams in flight.
                    rowPackedQuad(r, dt == DType.BF16);
                    r += 3;
                    continue;
                }
                for (int t = fullTiles; t < tokens; t++) {
                    float v = switch (dt) {
                        case F32 -> rowF32(r, t);
                        case BF16 -> rowPacked(r, t, true);
                        default -> rowPacked(r, t, false);
                    };
                    out[outOff + t * outStride + r] = bias == null ? v : v + bias[r];
                }
            }
        }

        private float[] scratch(int worker, int size) {
            float[][] all = scratch;
            if (all[worker] == null || all[worker].length < size) {
                all[worker] = new float[size];
            }
            return all[worker];
        }

        /** Rows [r0, r1) as float32 into wS (row stride cols): packed types in xPerm's even/odd order, tails natural. */
        private void convertRows(int r0, int r1, float[] wS) {
            DType dt = w.dtype();
            boolean bf16 = dt == DType.BF16;
            int packedCols = blocks * 2 * L;
            for (int r = r0; r < r1; r++) {
                int o = (r - r0) * cols;
                if (dt == DType.F32) {
                    MemorySegment.copy(seg, F32, (long) r * cols * 4, wS, o, cols);
                    continue;
                }
                long rowBase = (long) r * cols * 2;
                for (int b = 0; b < blocks; b++) {
                    IntVector packed = IntVector.fromMemorySegment(I, seg, rowBase + (long) b * 4 * L, LE);
                    low(packed, bf16).intoArray(wS, o + b * 2 * L);
                    high(packed, bf16).intoArray(wS, o + b * 2 * L + L);
                }
                for (int c = packedCols; c < cols; c++) {
                    wS[o + c] = scalarWeight(rowBase + c * 2L, bf16);
                }
            }
        }

        /** Where token t's input starts in the array the batched kernels read (xPerm for packed types). */
        private int xBase(int t) {
            return w.dtype() == DType.F32 ? inOff + t * inStride : t * permStride;
        }

        private float[] xArray() {
            return w.dtype() == DType.F32 ? in : xPerm;
        }

        private int xStride() {
            return w.dtype() == DType.F32 ? inStride : permStride;
        }

        private void block4x4(float[] wS, int w0, int r, int t) {
            float[] xs = xArray();
            int xs0 = xBase(t);
            int xStep = xStride();
            int xs1 = xs0 + xStep;
            int xs2 = xs1 + xStep;
            int xs3 = xs2 + xStep;
            int w1 = w0 + cols;
            int w2 = w1 + cols;
            int w3 = w2 + cols;
            int n = blocks * 2 * L;
            FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a02 = FloatVector.zero(F), a03 = FloatVector.zero(F);
            FloatVector a10 = FloatVector.zero(F), a11 = FloatVector.zero(F), a12 = FloatVector.zero(F), a13 = FloatVector.zero(F);
            FloatVector a20 = FloatVector.zero(F), a21 = FloatVector.zero(F), a22 = FloatVector.zero(F), a23 = FloatVector.zero(F);
            FloatVector a30 = FloatVector.zero(F), a31 = FloatVector.zero(F), a32 = FloatVector.zero(F), a33 = FloatVector.zero(F);
            for (int c = 0; c < n; c += L) {
                FloatVector v0 = FloatVector.fromArray(F, wS, w0 + c);
                FloatVector v1 = FloatVector.fromArray(F, wS, w1 + c);
                FloatVector v2 = FloatVector.fromArray(F, wS, w2 + c);
                FloatVector v3 = FloatVector.fromArray(F, wS, w3 + c);
                FloatVector x = FloatVector.fromArray(F, xs, xs0 + c);
                a00 = v0.fma(x, a00);
                a10 = v1.fma(x, a10);
                a20 = v2.fma(x, a20);
                a30 = v3.fma(x, a30);
                x = FloatVector.fromArray(F, xs, xs1 + c);
                a01 = v0.fma(x, a01);
                a11 = v1.fma(x, a11);
                a21 = v2.fma(x, a21);
                a31 = v3.fma(x, a31);
                x = FloatVector.fromArray(F, xs, xs2 + c);
                a02 = v0.fma(x, a02);
                a12 = v1.fma(x, a12);
                a22 = v2.fma(x, a22);
                a32 = v3.fma(x, a32);
                x = FloatVector.fromArray(F, xs, xs3 + c);
                a03 = v0.fma(x, a03);
                a13 = v1.fma(x, a13);
                a23 = v2.fma(x, a23);
                a33 = v3.fma(x, a33);
            }
            finish(wS, w0, r, t, a00, a01, a02, a03);
            finish(wS, w1, r + 1, t, a10, a11, a12, a13);
            finish(wS, w2, r + 2, t, a20, a21, a22, a23);
            finish(wS, w3, r + 3, t, a30, a31, a32, a33);
        }

        private void block1x4(float[] wS, int w0, int r, int t) {
            float[] xs = xArray();
            int xs0 = xBase(t);
            int xStep = xStride();
            int n = blocks * 2 * L;
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            for (int c = 0; c < n; c += L) {
                FloatVector v = FloatVector.fromArray(F, wS, w0 + c);
                a0 = v.fma(FloatVector.fromArray(F, xs, xs0 + c), a0);
                a1 = v.fma(FloatVector.fromArray(F, xs, xs0 + xStep + c), a1);
                a2 = v.fma(FloatVector.fromArray(F, xs, xs0 + 2 * xStep + c), a2);
                a3 = v.fma(FloatVector.fromArray(F, xs, xs0 + 3 * xStep + c), a3);
            }
            finish(wS, w0, r, t, a0, a1, a2, a3);
        }

        /** Reduces one row's four token accumulators, adds the scalar column tail and the bias, and stores. */
        private void finish(float[] wS, int wRow, int r, int t, FloatVector a0, FloatVector a1, FloatVector a2, FloatVector a3) {
            float s0 = a0.reduceLanes(VectorOperators.ADD);
            float s1 = a1.reduceLanes(VectorOperators.ADD);
            float s2 = a2.reduceLanes(VectorOperators.ADD);
            float s3 = a3.reduceLanes(VectorOperators.ADD);
            int x0 = inOff + t * inStride;
            for (int c = blocks * 2 * L; c < cols; c++) {
                float wc = wS[wRow + c];
                s0 += wc * in[x0 + c];
                s1 += wc * in[x0 + inStride + c];
                s2 += wc * in[x0 + 2 * inStride + c];
                s3 += wc * in[x0 + 3 * inStride + c];
            }
            store4(r, t, s0, s1, s2, s3);
        }

        private float rowF32(int r, int t) {
            long rowBase = (long) r * cols * 4;
            int x = inOff + t * inStride;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            int c = 0;
            for (; c + 2 * L <= cols; c += 2 * L) {
                a0 = FloatVector.fromMemorySegment(F, seg, rowBase + c * 4L, LE).fma(FloatVector.fromArray(F, in, x + c), a0);
                a1 = FloatVector.fromMemorySegment(F, seg, rowBase + (c + L) * 4L, LE).fma(FloatVector.fromArray(F, in, x + c + L), a1);
            }
            float sum = a0.add(a1).reduceLanes(VectorOperators.ADD);
            for (; c < cols; c++) {
                sum += seg.get(F32, rowBase + c * 4L) * in[x + c];
            }
            return sum;
        }

        private void store4(int r, int t, float s0, float s1, float s2, float s3) {
            float b = bias == null ? 0f : bias[r];
            int o = outOff + t * outStride + r;
            out[o] = s0 + b;
            out[o + outStride] = s1 + b;
            out[o + 2 * outStride] = s2 + b;
            out[o + 3 * outStride] = s3 + b;
        }

        /** Weights as floats from one int vector of packed 16-bit values: the even (low) halves. */
        private static FloatVector low(IntVector packed, boolean bf16) {
            return bf16 ? packed.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats()
                    : halfToFloat(packed.lanewise(VectorOperators.AND, 0xFFFF));
        }

        /** The odd (high) halves. */
        private static FloatVector high(IntVector packed, boolean bf16) {
            return bf16 ? packed.lanewise(VectorOperators.AND, 0xFFFF0000).reinterpretAsFloats()
                    : halfToFloat(packed.lanewise(VectorOperators.LSHR, 16));
        }

        /** IEEE half (in the low 16 bits of each lane) to float. */
        static FloatVector halfToFloat(IntVector h) {
            IntVector sign = h.lanewise(VectorOperators.AND, 0x8000).lanewise(VectorOperators.LSHL, 16);
            IntVector em = h.lanewise(VectorOperators.AND, 0x7FFF).lanewise(VectorOperators.LSHL, 13);
            IntVector bits = em.reinterpretAsFloats().mul(TWO_POW_112).reinterpretAsInts().or(sign);
            VectorMask<Integer> special = h.lanewise(VectorOperators.AND, 0x7C00).compare(VectorOperators.EQ, 0x7C00);
            if (special.anyTrue()) {
                bits = bits.blend(em.or(0x70000000).or(sign), special);
            }
            return bits.reinterpretAsFloats();
        }

        private float scalarWeight(long byteOff, boolean bf16) {
            short h = seg.get(I16, byteOff);
            return bf16 ? Float.intBitsToFloat((h & 0xFFFF) << 16) : Float.float16ToFloat(h);
        }

        private float rowPacked(int r, int t, boolean bf16) {
            long rowBase = (long) r * cols * 2;
            int xp = t * permStride;
            FloatVector ae = FloatVector.zero(F);
            FloatVector ao = FloatVector.zero(F);
            for (int b = 0; b < blocks; b++) {
                IntVector packed = IntVector.fromMemorySegment(I, seg, rowBase + (long) b * 4 * L, LE);
                ae = low(packed, bf16).fma(FloatVector.fromArray(F, xPerm, xp), ae);
                ao = high(packed, bf16).fma(FloatVector.fromArray(F, xPerm, xp + L), ao);
                xp += 2 * L;
            }
            float sum = ae.add(ao).reduceLanes(VectorOperators.ADD);
            int x = inOff + t * inStride;
            for (int c = blocks * 2 * L; c < cols; c++) {
                sum += scalarWeight(rowBase + c * 2L, bf16) * in[x + c];
            }
            return sum;
        }

        private void rowPackedQuad(int r, boolean bf16) {
            long rowBytes = (long) cols * 2;
            long base0 = (long) r * rowBytes;
            FloatVector e0 = FloatVector.zero(F);
            FloatVector o0 = FloatVector.zero(F);
            FloatVector e1 = FloatVector.zero(F);
            FloatVector o1 = FloatVector.zero(F);
            FloatVector e2 = FloatVector.zero(F);
            FloatVector o2 = FloatVector.zero(F);
            FloatVector e3 = FloatVector.zero(F);
            FloatVector o3 = FloatVector.zero(F);
            int xp = 0;
            for (int b = 0; b < blocks; b++) {
                long off = base0 + (long) b * 4 * L;
                FloatVector xe = FloatVector.fromArray(F, xPerm, xp);
                FloatVector xo = FloatVector.fromArray(F, xPerm, xp + L);
                IntVector p0 = IntVector.fromMemorySegment(I, seg, off, LE);
                IntVector p1 = IntVector.fromMemorySegment(I, seg, off + rowBytes, LE);
                IntVector p2 = IntVector.fromMemorySegment(I, seg, off + 2 * rowBytes, LE);
                IntVector p3 = IntVector.fromMemorySegment(I, seg, off + 3 * rowBytes, LE);
                e0 = low(p0, bf16).fma(xe, e0);
                o0 = high(p0, bf16).fma(xo, o0);
                e1 = low(p1, bf16).fma(xe, e1);
                o1 = high(p1, bf16).fma(xo, o1);
                e2 = low(p2, bf16).fma(xe, e2);
                o2 = high(p2, bf16).fma(xo, o2);
                e3 = low(p3, bf16).fma(xe, e3);
                o3 = high(p3, bf16).fma(xo, o3);
                xp += 2 * L;
            }
            float s0 = e0.add(o0).reduceLanes(VectorOperators.ADD);
            float s1 = e1.add(o1).reduceLanes(VectorOperators.ADD);
            float s2 = e2.add(o2).reduceLanes(VectorOperators.ADD);
            float s3 = e3.add(o3).reduceLanes(VectorOperators.ADD);
            int x = inOff;
            for (int c = blocks * 2 * L; c < cols; c++) {
                float xc = in[x + c];
                s0 += scalarWeight(base0 + c * 2L, bf16) * xc;
                s1 += scalarWeight(base0 + rowBytes + c * 2L, bf16) * xc;
                s2 += scalarWeight(base0 + 2 * rowBytes + c * 2L, bf16) * xc;
                s3 += scalarWeight(base0 + 3 * rowBytes + c * 2L, bf16) * xc;
            }
            int o = outOff + r;
            out[o] = bias == null ? s0 : s0 + bias[r];
            out[o + 1] = bias == null ? s1 : s1 + bias[r + 1];
            out[o + 2] = bias == null ? s2 : s2 + bias[r + 2];
            out[o + 3] = bias == null ? s3 : s3 + bias[r + 3];
        }

        /**
         * Conv1D layout ([cols][rows]): output rows [from, to) are contiguous in every stored row, so each task
         * keeps L outputs per token in registers and streams down the stored rows.
         */
        private void inputMajor(int from, int to) {
            DType dt = w.dtype();
            int rows = w.rows();
            int bytes = dt.bytes();
            for (int t = 0; t < tokens; t++) {
                int x = inOff + t * inStride;
                int o = outOff + t * outStride;
                int r = from;
                for (; r + L <= to; r += L) {
                    FloatVector acc = FloatVector.zero(F);
                    for (int c = 0; c < cols; c++) {
                        long off = ((long) c * rows + r) * bytes;
                        acc = loadFloats(dt, off).fma(FloatVector.broadcast(F, in[x + c]), acc);
                    }
                    if (bias != null) {
                        acc = acc.add(FloatVector.fromArray(F, bias, r));
                    }
                    acc.intoArray(out, o + r);
                }
                for (; r < to; r++) {
                    float sum = 0f;
                    for (int c = 0; c < cols; c++) {
                        long off = ((long) c * rows + r) * bytes;
                        sum += (dt == DType.F32 ? seg.get(F32, off) : scalarWeight(off, dt == DType.BF16)) * in[x + c];
                    }
                    out[o + r] = bias == null ? sum : sum + bias[r];
                }
            }
        }

        private FloatVector loadFloats(DType dt, long off) {
            if (dt == DType.F32) {
                return FloatVector.fromMemorySegment(F, seg, off, LE);
            }
            IntVector h = (IntVector) ShortVector.fromMemorySegment(S, seg, off, LE).convertShape(VectorOperators.S2I, I, 0);
            return dt == DType.BF16 ? h.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats()
                    : halfToFloat(h.lanewise(VectorOperators.AND, 0xFFFF));
        }
    }
}
