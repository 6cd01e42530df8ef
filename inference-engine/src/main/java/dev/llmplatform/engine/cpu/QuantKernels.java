package dev.llmplatform.engine.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API dot products of one quantized weight row with one token's activations, or with a tile of four tokens,
 * for the {@link WeightFormat}s Q8_0, Q4_0, INT8 and INT4. {@link QuantKernelsScalar} holds their scalar twins.
 *
 * <p>Layout of the hot loops. The weights are dequantized in registers and multiplied in float32 with float32
 * activations: the Vector API has no int8 dot-product instruction (VNNI's vpdpbusd, AVX2's pmaddubsw), and without
 * one, widening int8 products to int32 costs more instructions than converting the weights to floats. A load of L
 * bytes (L = float lanes: 8 with AVX2, 16 with AVX-512) becomes L floats with one sign- or zero-extension and one
 * int-to-float conversion. 4-bit chunks of 32 columns hold column j in the low nibble of byte j and column j + 16
 * in the high nibble (GGUF's Q4_0 order), so each load of L bytes gives two runs of L consecutive columns and the
 * activations need no reordering.
 *
 * <p>Scales are applied once per block, not per weight. One token (decode): each 32-column block's products
 * accumulate unscaled, then {@code acc += d * blockSum} with one broadcast multiply-add; the zero point of 4-bit
 * formats comes out of the loop entirely, as {@code sum (n - z) x = sum n x - z * sum x}, with the per-block sums of
 * x computed once per product ({@code sums}). Decode reads four rows at once, a quarter of the thread's range apart
 * (the {@code Rows4} kernels say why). A tile of four tokens (prefill) dequantizes each weight vector once
 * ({@code n * s - z * s}, one multiply-add) and multiplies it into four accumulators.
 *
 * <p>Measured on the 2-core AVX-512 machine, one thread, matrix in cache: INT8 about 20, INT4 17, Q8_0 15 billion
 * weights/s; from DRAM with two threads INT8 20 and INT4 25-27. An int16 product path (activations quantized to
 * int8 per group, products summed in 16-bit lanes) was 1.3x faster on INT4 group 128 in a micro-benchmark but needs
 * a group of 64 or more; a dot-product instruction in the Vector API would change this design.
 *
 * <p>Only 256- and 512-bit vectors are handled ({@link #SUPPORTED}); elsewhere the scalar twins run.
 */
final class QuantKernels {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    static final boolean SUPPORTED = L == 8 || L == 16;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    private static final VectorSpecies<Byte> B = SUPPORTED ? VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8)) : null;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    private QuantKernels() {
    }

    static float f16(MemorySegment s, long off) {
        return Float.float16ToFloat(s.get(I16, off));
    }

    /** L signed bytes at {@code off} as L floats. */
    private static FloatVector bytes(MemorySegment s, long off) {
        return (FloatVector) ByteVector.fromMemorySegment(B, s, off, LE).convertShape(VectorOperators.B2F, F, 0);
    }

    /** L bytes at {@code off}, zero-extended to ints (two nibbles each). */
    private static IntVector nibbles(MemorySegment s, long off) {
        return (IntVector) ByteVector.fromMemorySegment(B, s, off, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
    }

    private static FloatVector low(IntVector v) {
        return (FloatVector) v.and(0xF).convert(VectorOperators.I2F, 0);
    }

    private static FloatVector high(IntVector v) {
        return (FloatVector) v.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0);
    }

    private static FloatVector x(float[] x, int i) {
        return FloatVector.fromArray(F, x, i);
    }

    /** acc + the products of 32 int8 weights at {@code off} with x[xo..xo+32), unscaled. */
    private static FloatVector int8Chunk(MemorySegment w, long off, float[] x, int xo, FloatVector acc) {
        for (int k = 0; k < 32; k += L) {
            acc = bytes(w, off + k).fma(x(x, xo + k), acc);
        }
        return acc;
    }

    /** acc + the products of the 32 nibbles of the 16 bytes at {@code off} with x[xo..xo+32), unscaled, zero point 0. */
    private static FloatVector nibbleChunk(MemorySegment w, long off, float[] x, int xo, FloatVector acc) {
        for (int p = 0; p < 16; p += L) {
            IntVector v = nibbles(w, off + p);
            acc = low(v).fma(x(x, xo + p), acc);
            acc = high(v).fma(x(x, xo + 16 + p), acc);
        }
        return acc;
    }

    // ---------------------------------------------------------------- one token

    /** Row of {@code blocks} Q8_0 blocks at {@code row} times x[xo..]. */
    static float q8_0(MemorySegment w, long row, int blocks, float[] x, int xo) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector z = FloatVector.zero(F);
        int b = 0;
        for (; b + 2 <= blocks; b += 2) {
            long o = row + b * 34L;
            int xb = xo + b * 32;
            a0 = int8Chunk(w, o + 2, x, xb, z).fma(FloatVector.broadcast(F, f16(w, o)), a0);
            a1 = int8Chunk(w, o + 36, x, xb + 32, z).fma(FloatVector.broadcast(F, f16(w, o + 34)), a1);
        }
        if (b < blocks) {
            long o = row + b * 34L;
            a0 = int8Chunk(w, o + 2, x, xo + b * 32, z).fma(FloatVector.broadcast(F, f16(w, o)), a0);
        }
        return a0.add(a1).reduceLanes(VectorOperators.ADD);
    }

    /** Row of Q4_0 blocks times x[xo..]; {@code sums[so + b]} is the sum of x over block b. */
    static float q4_0(MemorySegment w, long row, int blocks, float[] x, int xo, float[] sums, int so) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector z = FloatVector.zero(F);
        float corr = 0f;
        int b = 0;
        for (; b + 2 <= blocks; b += 2) {
            long o = row + b * 18L;
            int xb = xo + b * 32;
            float d0 = f16(w, o);
            float d1 = f16(w, o + 18);
            a0 = nibbleChunk(w, o + 2, x, xb, z).fma(FloatVector.broadcast(F, d0), a0);
            a1 = nibbleChunk(w, o + 20, x, xb + 32, z).fma(FloatVector.broadcast(F, d1), a1);
            corr += d0 * sums[so + b] + d1 * sums[so + b + 1];
        }
        if (b < blocks) {
            long o = row + b * 18L;
            float d = f16(w, o);
            a0 = nibbleChunk(w, o + 2, x, xo + b * 32, z).fma(FloatVector.broadcast(F, d), a0);
            corr += d * sums[so + b];
        }
        return a0.add(a1).reduceLanes(VectorOperators.ADD) - 8f * corr;
    }

    /** Two Q4_0 rows times x[xo..], into out[o] and out[o + 1]; sums as in {@link #q4_0}. */
    static void q4_0Rows2(MemorySegment w, long row, long rowBytes, int blocks, float[] x, int xo, float[] sums, int so,
                          float[] out, int o) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        float c0 = 0f;
        float c1 = 0f;
        long r1 = row + rowBytes;
        for (int b = 0; b < blocks; b++) {
            long o0 = row + b * 18L;
            long o1 = r1 + b * 18L;
            int xb = xo + b * 32;
            FloatVector s0 = FloatVector.zero(F);
            FloatVector s1 = FloatVector.zero(F);
            for (int p = 0; p < 16; p += L) {
                FloatVector xl = x(x, xb + p);
                FloatVector xh = x(x, xb + 16 + p);
                IntVector v0 = nibbles(w, o0 + 2 + p);
                IntVector v1 = nibbles(w, o1 + 2 + p);
                s0 = high(v0).fma(xh, low(v0).fma(xl, s0));
                s1 = high(v1).fma(xh, low(v1).fma(xl, s1));
            }
            float d0 = f16(w, o0);
            float d1 = f16(w, o1);
            a0 = s0.fma(FloatVector.broadcast(F, d0), a0);
            a1 = s1.fma(FloatVector.broadcast(F, d1), a1);
            float xs = sums[so + b];
            c0 += d0 * xs;
            c1 += d1 * xs;
        }
        out[o] = a0.reduceLanes(VectorOperators.ADD) - 8f * c0;
        out[o + 1] = a1.reduceLanes(VectorOperators.ADD) - 8f * c1;
    }

    // ---------------------------------------------------------------- four rows, one token (decode)
    // Four rows at a time, as MatMul's bf16 decode path does: four memory streams in flight hide DRAM latency, and
    // each activation load serves four rows. The four rows are {@code rs} rows apart ({@code stride} bytes), and the
    // caller makes that far: Intel's L2 streamer follows one stream per 4 KB page, so four neighbouring rows of a
    // small format (a 2048-wide int4 row is 1 KB) would share one page and three of the four would not be
    // prefetched. Results go to out[o + i * rs].

    static void int8Rows4(MemorySegment w, long row, long stride, int cols, MemorySegment scales, int r, int rs, float[] x,
                          int xo, float[] out, int o) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        long r1 = row + stride;
        long r2 = r1 + stride;
        long r3 = r2 + stride;
        FloatVector b0 = a0;
        FloatVector b1 = a0;
        FloatVector b2 = a0;
        FloatVector b3 = a0;
        int c = 0;
        for (; c + 2 * L <= cols; c += 2 * L) {
            FloatVector xv = x(x, xo + c);
            FloatVector xw = x(x, xo + c + L);
            a0 = bytes(w, row + c).fma(xv, a0);
            a1 = bytes(w, r1 + c).fma(xv, a1);
            a2 = bytes(w, r2 + c).fma(xv, a2);
            a3 = bytes(w, r3 + c).fma(xv, a3);
            b0 = bytes(w, row + c + L).fma(xw, b0);
            b1 = bytes(w, r1 + c + L).fma(xw, b1);
            b2 = bytes(w, r2 + c + L).fma(xw, b2);
            b3 = bytes(w, r3 + c + L).fma(xw, b3);
        }
        for (; c + L <= cols; c += L) {
            FloatVector xv = x(x, xo + c);
            a0 = bytes(w, row + c).fma(xv, a0);
            a1 = bytes(w, r1 + c).fma(xv, a1);
            a2 = bytes(w, r2 + c).fma(xv, a2);
            a3 = bytes(w, r3 + c).fma(xv, a3);
        }
        float s0 = a0.add(b0).reduceLanes(VectorOperators.ADD);
        float s1 = a1.add(b1).reduceLanes(VectorOperators.ADD);
        float s2 = a2.add(b2).reduceLanes(VectorOperators.ADD);
        float s3 = a3.add(b3).reduceLanes(VectorOperators.ADD);
        for (; c < cols; c++) {
            float xc = x[xo + c];
            s0 += w.get(ValueLayout.JAVA_BYTE, row + c) * xc;
            s1 += w.get(ValueLayout.JAVA_BYTE, r1 + c) * xc;
            s2 += w.get(ValueLayout.JAVA_BYTE, r2 + c) * xc;
            s3 += w.get(ValueLayout.JAVA_BYTE, r3 + c) * xc;
        }
        out[o] = s0 * int8Scale(scales, r);
        out[o + rs] = s1 * int8Scale(scales, r + rs);
        out[o + 2 * rs] = s2 * int8Scale(scales, r + 2 * rs);
        out[o + 3 * rs] = s3 * int8Scale(scales, r + 3 * rs);
    }

    static void q8_0Rows4(MemorySegment w, long row, long stride, int blocks, float[] x, int xo, float[] out, int o, int rs) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long o0 = row + b * 34L;
            long o1 = o0 + stride;
            long o2 = o1 + stride;
            long o3 = o2 + stride;
            int xb = xo + b * 32;
            FloatVector s0 = FloatVector.zero(F);
            FloatVector s1 = s0;
            FloatVector s2 = s0;
            FloatVector s3 = s0;
            for (int k = 0; k < 32; k += L) {
                FloatVector xv = x(x, xb + k);
                s0 = bytes(w, o0 + 2 + k).fma(xv, s0);
                s1 = bytes(w, o1 + 2 + k).fma(xv, s1);
                s2 = bytes(w, o2 + 2 + k).fma(xv, s2);
                s3 = bytes(w, o3 + 2 + k).fma(xv, s3);
            }
            a0 = s0.fma(FloatVector.broadcast(F, f16(w, o0)), a0);
            a1 = s1.fma(FloatVector.broadcast(F, f16(w, o1)), a1);
            a2 = s2.fma(FloatVector.broadcast(F, f16(w, o2)), a2);
            a3 = s3.fma(FloatVector.broadcast(F, f16(w, o3)), a3);
        }
        store4(out, o, rs, a0, a1, a2, a3);
    }

    /** Four INT4 rows ({@code groups} groups each; tables as in {@link #int4}, {@code gi} of the first row). */
    static void int4Rows4(MemorySegment w, long row, long stride, MemorySegment scales, MemorySegment zeros, long gi, int groups,
                          int cols, int group, float[] x, int xo, float[] gsums, int go, float[] out, int o, int rs) {
        int chunks = cols >>> 5;
        int perGroup = group >>> 5;
        long rb = stride;
        long gstride = (long) rs * groups;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        for (int k = 0, g = 0; k < chunks; g++) {
            int end = Math.min(chunks, k + perGroup);
            FloatVector s0 = FloatVector.zero(F);
            FloatVector s1 = s0;
            FloatVector s2 = s0;
            FloatVector s3 = s0;
            for (; k < end; k++) {
                long o0 = row + k * 16L;
                int xb = xo + k * 32;
                for (int p = 0; p < 16; p += L) {
                    FloatVector xl = x(x, xb + p);
                    FloatVector xh = x(x, xb + 16 + p);
                    IntVector v0 = nibbles(w, o0 + p);
                    IntVector v1 = nibbles(w, o0 + rb + p);
                    IntVector v2 = nibbles(w, o0 + 2 * rb + p);
                    IntVector v3 = nibbles(w, o0 + 3 * rb + p);
                    s0 = high(v0).fma(xh, low(v0).fma(xl, s0));
                    s1 = high(v1).fma(xh, low(v1).fma(xl, s1));
                    s2 = high(v2).fma(xh, low(v2).fma(xl, s2));
                    s3 = high(v3).fma(xh, low(v3).fma(xl, s3));
                }
            }
            long g0 = (gi + g) * 4;
            long gs = gstride * 4;
            a0 = s0.fma(FloatVector.broadcast(F, scales.get(F32, g0)), a0);
            a1 = s1.fma(FloatVector.broadcast(F, scales.get(F32, g0 + gs)), a1);
            a2 = s2.fma(FloatVector.broadcast(F, scales.get(F32, g0 + 2 * gs)), a2);
            a3 = s3.fma(FloatVector.broadcast(F, scales.get(F32, g0 + 3 * gs)), a3);
        }
        out[o] = a0.reduceLanes(VectorOperators.ADD) - zeroCorrection(scales, zeros, gi, groups, gsums, go);
        out[o + rs] = a1.reduceLanes(VectorOperators.ADD) - zeroCorrection(scales, zeros, gi + gstride, groups, gsums, go);
        out[o + 2 * rs] = a2.reduceLanes(VectorOperators.ADD) - zeroCorrection(scales, zeros, gi + 2 * gstride, groups, gsums, go);
        out[o + 3 * rs] = a3.reduceLanes(VectorOperators.ADD) - zeroCorrection(scales, zeros, gi + 3 * gstride, groups, gsums, go);
    }

    /** Unscaled row of int8 weights times x[xo..] (the caller multiplies by the row's scale). */
    static float int8(MemorySegment w, long row, int cols, float[] x, int xo) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        int c = 0;
        for (; c + 4 * L <= cols; c += 4 * L) {
            a0 = bytes(w, row + c).fma(x(x, xo + c), a0);
            a1 = bytes(w, row + c + L).fma(x(x, xo + c + L), a1);
            a2 = bytes(w, row + c + 2 * L).fma(x(x, xo + c + 2 * L), a2);
            a3 = bytes(w, row + c + 3 * L).fma(x(x, xo + c + 3 * L), a3);
        }
        for (; c + L <= cols; c += L) {
            a0 = bytes(w, row + c).fma(x(x, xo + c), a0);
        }
        float sum = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        for (; c < cols; c++) {
            sum += w.get(ValueLayout.JAVA_BYTE, row + c) * x[xo + c];
        }
        return sum;
    }

    /**
     * Row of INT4 chunks at {@code row} times x[xo..]. Group g's f32 scale is at {@code scales[(gi + g) * 4]} and its
     * zero point at {@code zeros[gi + g]}; {@code gsums[go + g]} is the sum of x over group g. The zero points are
     * applied after the loop, in one vectorized pass over the groups ({@link #zeroCorrection}).
     */
    static float int4(MemorySegment w, long row, MemorySegment scales, MemorySegment zeros, long gi, int groups, int cols,
                      int group, float[] x, int xo, float[] gsums, int go) {
        int chunks = cols >>> 5;
        int perGroup = group >>> 5;
        FloatVector z = FloatVector.zero(F);
        FloatVector a0 = z;
        FloatVector a1 = z;
        int k = 0;
        long g = gi;
        if (perGroup == 1) { // group 32: two groups an iteration, two independent accumulators
            for (; k + 2 <= chunks; k += 2, g += 2) {
                long o = row + k * 16L;
                int xb = xo + k * 32;
                FloatVector s0 = nibbleChunk(w, o, x, xb, z);
                FloatVector s1 = nibbleChunk(w, o + 16, x, xb + 32, z);
                a0 = s0.fma(FloatVector.broadcast(F, scales.get(F32, g * 4)), a0);
                a1 = s1.fma(FloatVector.broadcast(F, scales.get(F32, g * 4 + 4)), a1);
            }
        }
        for (; k < chunks; g++) {
            int end = Math.min(chunks, k + perGroup);
            FloatVector s0 = z;
            for (; k < end; k++) {
                s0 = nibbleChunk(w, row + k * 16L, x, xo + k * 32, s0);
            }
            a0 = s0.fma(FloatVector.broadcast(F, scales.get(F32, g * 4)), a0);
        }
        return a0.add(a1).reduceLanes(VectorOperators.ADD) - zeroCorrection(scales, zeros, gi, groups, gsums, go);
    }

    /** {@code sum over g of scale_g * zero_g * gsums[go + g]}: what the zero points take off a row's product. */
    static float zeroCorrection(MemorySegment scales, MemorySegment zeros, long gi, int groups, float[] gsums, int go) {
        FloatVector acc = FloatVector.zero(F);
        int g = 0;
        for (; g + L <= groups; g += L) {
            FloatVector zv = (FloatVector) nibbles(zeros, gi + g).convert(VectorOperators.I2F, 0);
            FloatVector sv = FloatVector.fromMemorySegment(F, scales, (gi + g) * 4, LE);
            acc = sv.mul(zv).fma(x(gsums, go + g), acc);
        }
        float c = acc.reduceLanes(VectorOperators.ADD);
        for (; g < groups; g++) {
            c += scales.get(F32, (gi + g) * 4) * (zeros.get(ValueLayout.JAVA_BYTE, gi + g) & 0xFF) * gsums[go + g];
        }
        return c;
    }

    // ---------------------------------------------------------------- tiles of four tokens
    // Token i's activations start at x0 + i * xs; results go to out[o + i * os].

    static void q8_0x4(MemorySegment w, long row, int blocks, float[] x, int x0, int xs, float[] out, int o, int os) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long off = row + b * 34L;
            FloatVector d = FloatVector.broadcast(F, f16(w, off));
            int xb = x0 + b * 32;
            for (int k = 0; k < 32; k += L) {
                FloatVector wv = bytes(w, off + 2 + k).mul(d);
                a0 = wv.fma(x(x, xb + k), a0);
                a1 = wv.fma(x(x, xb + xs + k), a1);
                a2 = wv.fma(x(x, xb + 2 * xs + k), a2);
                a3 = wv.fma(x(x, xb + 3 * xs + k), a3);
            }
        }
        store4(out, o, os, a0, a1, a2, a3);
    }

    static void q4_0x4(MemorySegment w, long row, int blocks, float[] x, int x0, int xs, float[] out, int o, int os) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            long off = row + b * 18L;
            float d = f16(w, off);
            FloatVector dv = FloatVector.broadcast(F, d);
            FloatVector mv = FloatVector.broadcast(F, -8f * d);
            int xb = x0 + b * 32;
            for (int p = 0; p < 16; p += L) {
                IntVector v = nibbles(w, off + 2 + p);
                FloatVector lo = low(v).fma(dv, mv);
                FloatVector hi = high(v).fma(dv, mv);
                int xl = xb + p;
                int xh = xb + 16 + p;
                a0 = hi.fma(x(x, xh), lo.fma(x(x, xl), a0));
                a1 = hi.fma(x(x, xh + xs), lo.fma(x(x, xl + xs), a1));
                a2 = hi.fma(x(x, xh + 2 * xs), lo.fma(x(x, xl + 2 * xs), a2));
                a3 = hi.fma(x(x, xh + 3 * xs), lo.fma(x(x, xl + 3 * xs), a3));
            }
        }
        store4(out, o, os, a0, a1, a2, a3);
    }

    static void int8x4(MemorySegment w, long row, int cols, float scale, float[] x, int x0, int xs, float[] out, int o, int os) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        int c = 0;
        for (; c + L <= cols; c += L) {
            FloatVector wv = bytes(w, row + c);
            a0 = wv.fma(x(x, x0 + c), a0);
            a1 = wv.fma(x(x, x0 + xs + c), a1);
            a2 = wv.fma(x(x, x0 + 2 * xs + c), a2);
            a3 = wv.fma(x(x, x0 + 3 * xs + c), a3);
        }
        store4(out, o, os, a0, a1, a2, a3);
        for (; c < cols; c++) {
            float wc = w.get(ValueLayout.JAVA_BYTE, row + c);
            for (int i = 0; i < 4; i++) {
                out[o + i * os] += wc * x[x0 + i * xs + c];
            }
        }
        for (int i = 0; i < 4; i++) {
            out[o + i * os] *= scale;
        }
    }

    static void int4x4(MemorySegment w, long row, MemorySegment scales, MemorySegment zeros, long gi, int cols, int group,
                       float[] x, int x0, int xs, float[] out, int o, int os) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        int chunks = cols >>> 5;
        int perGroup = group >>> 5;
        for (int k = 0; k < chunks; k++) {
            long g = gi + k / perGroup;
            float s = scales.get(F32, g * 4);
            FloatVector sv = FloatVector.broadcast(F, s);
            FloatVector mv = FloatVector.broadcast(F, -s * (zeros.get(ValueLayout.JAVA_BYTE, g) & 0xFF));
            long off = row + k * 16L;
            int xb = x0 + k * 32;
            for (int p = 0; p < 16; p += L) {
                IntVector v = nibbles(w, off + p);
                FloatVector lo = low(v).fma(sv, mv);
                FloatVector hi = high(v).fma(sv, mv);
                int xl = xb + p;
                int xh = xb + 16 + p;
                a0 = hi.fma(x(x, xh), lo.fma(x(x, xl), a0));
                a1 = hi.fma(x(x, xh + xs), lo.fma(x(x, xl + xs), a1));
                a2 = hi.fma(x(x, xh + 2 * xs), lo.fma(x(x, xl + 2 * xs), a2));
                a3 = hi.fma(x(x, xh + 3 * xs), lo.fma(x(x, xl + 3 * xs), a3));
            }
        }
        store4(out, o, os, a0, a1, a2, a3);
    }

    private static void store4(float[] out, int o, int os, FloatVector a0, FloatVector a1, FloatVector a2, FloatVector a3) {
        out[o] = a0.reduceLanes(VectorOperators.ADD);
        out[o + os] = a1.reduceLanes(VectorOperators.ADD);
        out[o + 2 * os] = a2.reduceLanes(VectorOperators.ADD);
        out[o + 3 * os] = a3.reduceLanes(VectorOperators.ADD);
    }

    static float int8Scale(MemorySegment scales, int r) {
        return scales.get(F32, r * 4L);
    }
}
