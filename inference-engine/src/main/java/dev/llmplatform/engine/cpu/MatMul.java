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

        @Override
        public void run(int from, int to, int worker) {
            if (w.inputMajor()) {
                inputMajor(from, to);
                return;
            }
            DType dt = w.dtype();
            for (int r = from; r < to; r++) {
                int t = 0;
                for (; t + TILE <= tokens; t += TILE) {
                    switch (dt) {
                        case F32 -> rowF32x4(r, t);
                        case BF16 -> rowPackedx4(r, t, true);
                        default -> rowPackedx4(r, t, false);
                    }
                }
                if (tokens == 1 && dt != DType.F32 && r + 3 < to) {
                    // The decode case: four rows at a time, four memory streams in flight.
                    rowPackedQuad(r, dt == DType.BF16);
                    r += 3;
                    continue;
                }
                for (; t < tokens; t++) {
                    float v = switch (dt) {
                        case F32 -> rowF32(r, t);
                        case BF16 -> rowPacked(r, t, true);
                        default -> rowPacked(r, t, false);
                    };
                    out[outOff + t * outStride + r] = bias == null ? v : v + bias[r];
                }
            }
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

        private void rowF32x4(int r, int t) {
            long rowBase = (long) r * cols * 4;
            int x0 = inOff + t * inStride;
            int x1 = x0 + inStride;
            int x2 = x1 + inStride;
            int x3 = x2 + inStride;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            int c = 0;
            for (; c + L <= cols; c += L) {
                FloatVector wv = FloatVector.fromMemorySegment(F, seg, rowBase + c * 4L, LE);
                a0 = wv.fma(FloatVector.fromArray(F, in, x0 + c), a0);
                a1 = wv.fma(FloatVector.fromArray(F, in, x1 + c), a1);
                a2 = wv.fma(FloatVector.fromArray(F, in, x2 + c), a2);
                a3 = wv.fma(FloatVector.fromArray(F, in, x3 + c), a3);
            }
            float s0 = a0.reduceLanes(VectorOperators.ADD);
            float s1 = a1.reduceLanes(VectorOperators.ADD);
            float s2 = a2.reduceLanes(VectorOperators.ADD);
            float s3 = a3.reduceLanes(VectorOperators.ADD);
            for (; c < cols; c++) {
                float wc = seg.get(F32, rowBase + c * 4L);
                s0 += wc * in[x0 + c];
                s1 += wc * in[x1 + c];
                s2 += wc * in[x2 + c];
                s3 += wc * in[x3 + c];
            }
            store4(r, t, s0, s1, s2, s3);
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

        private void rowPackedx4(int r, int t, boolean bf16) {
            long rowBase = (long) r * cols * 2;
            int p0 = t * permStride;
            int p1 = p0 + permStride;
            int p2 = p1 + permStride;
            int p3 = p2 + permStride;
            // Even and odd lanes accumulate separately: eight independent FMA chains keep both FMA ports busy.
            FloatVector e0 = FloatVector.zero(F);
            FloatVector e1 = FloatVector.zero(F);
            FloatVector e2 = FloatVector.zero(F);
            FloatVector e3 = FloatVector.zero(F);
            FloatVector o0 = FloatVector.zero(F);
            FloatVector o1 = FloatVector.zero(F);
            FloatVector o2 = FloatVector.zero(F);
            FloatVector o3 = FloatVector.zero(F);
            int off = 0;
            for (int b = 0; b < blocks; b++) {
                IntVector packed = IntVector.fromMemorySegment(I, seg, rowBase + (long) b * 4 * L, LE);
                FloatVector we = low(packed, bf16);
                FloatVector wo = high(packed, bf16);
                e0 = we.fma(FloatVector.fromArray(F, xPerm, p0 + off), e0);
                o0 = wo.fma(FloatVector.fromArray(F, xPerm, p0 + off + L), o0);
                e1 = we.fma(FloatVector.fromArray(F, xPerm, p1 + off), e1);
                o1 = wo.fma(FloatVector.fromArray(F, xPerm, p1 + off + L), o1);
                e2 = we.fma(FloatVector.fromArray(F, xPerm, p2 + off), e2);
                o2 = wo.fma(FloatVector.fromArray(F, xPerm, p2 + off + L), o2);
                e3 = we.fma(FloatVector.fromArray(F, xPerm, p3 + off), e3);
                o3 = wo.fma(FloatVector.fromArray(F, xPerm, p3 + off + L), o3);
                off += 2 * L;
            }
            float s0 = e0.add(o0).reduceLanes(VectorOperators.ADD);
            float s1 = e1.add(o1).reduceLanes(VectorOperators.ADD);
            float s2 = e2.add(o2).reduceLanes(VectorOperators.ADD);
            float s3 = e3.add(o3).reduceLanes(VectorOperators.ADD);
            int x0 = inOff + t * inStride;
            for (int c = blocks * 2 * L; c < cols; c++) {
                float wc = scalarWeight(rowBase + c * 2L, bf16);
                s0 += wc * in[x0 + c];
                s1 += wc * in[x0 + inStride + c];
                s2 += wc * in[x0 + 2 * inStride + c];
                s3 += wc * in[x0 + 3 * inStride + c];
            }
            store4(r, t, s0, s1, s2, s3);
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
