package dev.llmplatform.nativekernels;

import dev.llmplatform.engine.arch.TransformerSpec;
import dev.llmplatform.engine.cpu.Kernels;
import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.cpu.RotaryEmbedding;

/**
 * The CPU twin of each kernel in kernels.cu, built from the engine's own CPU code (Kernels, RotaryEmbedding,
 * KvCache) so that a GPU/CPU comparison checks the GPU against what DecoderModel computes.
 */
public final class CpuTwins {
    private CpuTwins() {
    }

    /** bf16 bits (upper half of a float) to float. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** float to bf16 bits, round to nearest even (as __float2bfloat16_rn and torch). */
    public static short floatToBf16(float f) {
        int b = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) 0x7fc0;
        }
        int lsb = (b >>> 16) & 1;
        return (short) ((b + 0x7fff + lsb) >>> 16);
    }

    public static float roundBf16(float f) {
        return bf16ToFloat(floatToBf16(f));
    }

    /** embed_gather: x[t] = table[tokens[t]]. */
    public static float[] embedGather(float[] table, int[] tokens, int hidden) {
        float[] x = new float[tokens.length * hidden];
        for (int t = 0; t < tokens.length; t++) {
            System.arraycopy(table, tokens[t] * hidden, x, t * hidden, hidden);
        }
        return x;
    }

    /** embed_gather with learned positions: x[t] = table[tokens[t]] + posTable[positions[t]], as DecoderModel.embed. */
    public static float[] embedGather(float[] table, int[] tokens, int hidden, float[] posTable, int[] positions) {
        float[] x = embedGather(table, tokens, hidden);
        for (int t = 0; t < tokens.length; t++) {
            for (int i = 0; i < hidden; i++) {
                x[t * hidden + i] += posTable[positions[t] * hidden + i];
            }
        }
        return x;
    }

    /**
     * add_norm over all rows, as DecoderModel.layer composes it: {@code x += d1 + b1} (the product with its bias, then
     * the add), {@code x += d2 + b2}, {@code out = norm(x)} (RMSNorm, or LayerNorm with bias {@code nb}); any of d1,
     * b1, d2, b2, nb may be null. {@code x} is updated as the kernel's mode says ({@link KernelModule#KEEP_X} leaves
     * it alone, {@link KernelModule#X_GETS_SUM} keeps the sum, {@link KernelModule#X_GETS_NORM} copies the output
     * into it as DecoderModel does for residualFromNorm). The output is rounded to bf16 when asked.
     */
    public static float[] addNorm(float[] x, float[] d1, float[] b1, float[] d2, float[] b2, float[] w, float[] nb,
                                  int hidden, float eps, TransformerSpec.NormSpec.Kind kind, int mode, boolean bf16Out) {
        int n = x.length / hidden;
        float[] sum = x.clone();
        float[] out = new float[x.length];
        float[] tmp = new float[hidden];
        for (int t = 0; t < n; t++) {
            int o = t * hidden;
            for (float[][] db : new float[][][] {{d1, b1}, {d2, b2}}) {
                if (db[0] != null) {
                    System.arraycopy(db[0], o, tmp, 0, hidden);
                    if (db[1] != null) {
                        Kernels.add(db[1], 0, tmp, 0, hidden);
                    }
                    Kernels.add(tmp, 0, sum, o, hidden);
                } else if (db[1] != null) {
                    Kernels.add(db[1], 0, sum, o, hidden);
                }
            }
            if (kind == TransformerSpec.NormSpec.Kind.RMS) {
                Kernels.rmsNorm(out, o, sum, o, w, hidden, eps);
                if (nb != null) {
                    Kernels.add(nb, 0, out, o, hidden);
                }
            } else {
                Kernels.layerNorm(out, o, sum, o, w, nb, hidden, eps);
            }
        }
        if (mode == KernelModule.X_GETS_SUM) {
            System.arraycopy(sum, 0, x, 0, x.length);
        } else if (mode == KernelModule.X_GETS_NORM) {
            System.arraycopy(out, 0, x, 0, x.length);
        }
        if (bf16Out) {
            for (int i = 0; i < out.length; i++) {
                out[i] = roundBf16(out[i]);
            }
        }
        return out;
    }

    /** add_rmsnorm (writeBack, all rows): x += delta + bias; out = rmsNorm(x) * w (rounded to bf16 if asked). */
    public static float[] addRmsnorm(float[] x, float[] delta, float[] bias, float[] w, int hidden, float eps, boolean bf16Out) {
        int n = x.length / hidden;
        float[] out = new float[x.length];
        for (int t = 0; t < n; t++) {
            if (delta != null) {
                Kernels.add(delta, t * hidden, x, t * hidden, hidden);
            }
            if (bias != null) {
                Kernels.add(bias, 0, x, t * hidden, hidden);
            }
            Kernels.rmsNorm(out, t * hidden, x, t * hidden, w, hidden, eps);
        }
        if (bf16Out) {
            for (int i = 0; i < out.length; i++) {
                out[i] = roundBf16(out[i]);
            }
        }
        return out;
    }

    /** bias_rope_qk: bias added to each qkv row, then q and k heads rotated at their token's position. */
    public static void biasRopeQk(float[] qkv, float[] bias, int[] positions, RotaryEmbedding rope, int heads, int kvHeads, int headDim) {
        int width = (heads + 2 * kvHeads) * headDim;
        int half = rope.rotaryDim() / 2;
        float[] cos = new float[half];
        float[] sin = new float[half];
        for (int t = 0; t < positions.length; t++) {
            if (bias != null) {
                Kernels.add(bias, 0, qkv, t * width, width);
            }
            rope.angles(positions[t], cos, sin, 0);
            for (int hd = 0; hd < heads + kvHeads; hd++) {
                rope.rotate(qkv, t * width + hd * headDim, cos, sin, 0);
            }
        }
    }

    /**
     * bias_rope_qk in general: bias added to each qkv row, every element clamped to [-clip, clip] when clip > 0
     * (DecoderModel.project), then q and k heads rotated by {@code rope} (its pairing, its rotary dim) at their
     * token's position (DecoderModel.applyRopeAndStore); {@code rope} null: no rotation.
     */
    public static void biasClipRopeQk(float[] qkv, float[] bias, float clip, int[] positions, RotaryEmbedding rope,
                                      int heads, int kvHeads, int headDim) {
        int width = (heads + 2 * kvHeads) * headDim;
        for (int t = 0; t < positions.length; t++) {
            if (bias != null) {
                Kernels.add(bias, 0, qkv, t * width, width);
            }
            if (clip > 0) {
                for (int i = t * width; i < (t + 1) * width; i++) {
                    qkv[i] = Math.max(-clip, Math.min(clip, qkv[i]));
                }
            }
        }
        if (rope != null) {
            biasRopeQk(qkv, null, positions, rope, heads, kvHeads, headDim);
        }
    }

    /** kv_cache_write: k and v of each qkv row into its sequence's cache, as DecoderModel.applyRopeAndStore. */
    public static void kvCacheWrite(float[] qkv, KvCache[] caches, int[] positions, int layer, int qDim, int kvDim) {
        int width = qDim + 2 * kvDim;
        for (int t = 0; t < positions.length; t++) {
            KvCache c = caches[t];
            int p = positions[t];
            c.reserve(p);
            System.arraycopy(qkv, t * width + qDim, c.keyBlock(layer, p), c.offset(p), kvDim);
            System.arraycopy(qkv, t * width + qDim + kvDim, c.valueBlock(layer, p), c.offset(p), kvDim);
        }
    }

    /**
     * FP8 E4M3 (1 sign, 4 exponent bits with bias 7, 3 mantissa bits; no infinities, one NaN pattern) as a float:
     * the twin of {@code __nv_fp8_e4m3}'s conversion to float.
     */
    public static float e4m3ToFloat(byte b) {
        int v = b & 0xff, sign = v >> 7, exp = (v >> 3) & 0xf, man = v & 7;
        if (exp == 0xf && man == 7) {
            return Float.NaN;
        }
        float mag = exp == 0 ? man * 0x1p-9f : (1 + man / 8f) * (float) Math.pow(2, exp - 7);
        return sign == 1 ? -mag : mag;
    }

    /**
     * A float rounded to the nearest E4M3 value (ties to even) and saturated at +-448: what the FP8 KV cache stores
     * ({@code __nv_fp8_e4m3(float)}, which converts with {@code __NV_SATFINITE}).
     */
    public static float roundE4m3(float f) {
        if (Float.isNaN(f)) {
            return f;
        }
        float a = Math.abs(f);
        if (a >= 448f) {
            return Math.copySign(448f, f);
        }
        // The spacing of E4M3 values around a: 2^-9 below the smallest normal (2^-6), else 2^(e - 3).
        int e = a < 0x1p-6f ? -6 : Math.getExponent(a);
        float step = (float) Math.pow(2, e - 3);
        float q = (float) Math.rint(a / step) * step; // rint: ties to even, exact in float for these magnitudes
        return Math.copySign(Math.min(q, 448f), f);
    }

    /** The qkv rows with their k and v parts rounded to bf16, as a bf16 KV cache stores them (q untouched). */
    public static float[] roundKv(float[] qkv, int qDim, int kvDim) {
        return roundKv(qkv, qDim, kvDim, KernelModule.BF16);
    }

    /** The qkv rows with k and v as a cache of {@code kvType} stores them (F32: unchanged; BF16; FP8_E4M3). */
    public static float[] roundKv(float[] qkv, int qDim, int kvDim, int kvType) {
        if (kvType == KernelModule.F32) {
            return qkv;
        }
        int width = qDim + 2 * kvDim;
        float[] out = qkv.clone();
        for (int i = 0; i < out.length; i++) {
            if (i % width >= qDim) {
                out[i] = kvType == KernelModule.FP8_E4M3 ? roundE4m3(out[i]) : roundBf16(out[i]);
            }
        }
        return out;
    }

    /** paged_attention: DecoderModel's AttentionTask for every (token, head), q read from the qkv rows. */
    public static float[] attention(float[] qkv, KvCache[] caches, int[] positions, int layer, int heads, int kvHeads,
                                    int headDim, float scale, int window) {
        return attention(qkv, caches, positions, layer, heads, kvHeads, headDim, scale, window, null);
    }

    /** The same with ALiBi: {@code slopes[head] * (j - p)} added to each score after the scale (null: none). */
    public static float[] attention(float[] qkv, KvCache[] caches, int[] positions, int layer, int heads, int kvHeads,
                                    int headDim, float scale, int window, float[] slopes) {
        int qDim = heads * headDim;
        int width = qDim + 2 * kvHeads * headDim;
        int group = heads / kvHeads;
        float[] out = new float[positions.length * qDim];
        for (int t = 0; t < positions.length; t++) {
            int p = positions[t];
            KvCache cache = caches[t];
            int start = window > 0 ? Math.max(0, p - window + 1) : 0;
            float[] sc = new float[p - start + 1];
            for (int head = 0; head < heads; head++) {
                int g = head / group;
                int qOff = t * width + head * headDim;
                float slope = slopes == null ? 0f : slopes[head];
                for (int j = start; j <= p; j++) {
                    sc[j - start] = Kernels.dot(qkv, qOff, cache.keyBlock(layer, j), cache.offset(j) + g * headDim, headDim) * scale
                            + slope * (j - p);
                }
                Kernels.softmax(sc, 0, sc.length);
                for (int j = start; j <= p; j++) {
                    Kernels.axpy(sc[j - start], cache.valueBlock(layer, j), cache.offset(j) + g * headDim, out, t * qDim + head * headDim, headDim);
                }
            }
        }
        return out;
    }

    /** swiglu: out[t, i] = silu(gate + bg) * (up + bu) over rows [gate | up]. */
    public static float[] swiglu(float[] gu, float[] bias, int ffn) {
        int n = gu.length / (2 * ffn);
        float[] out = new float[n * ffn];
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < ffn; i++) {
                float a = gu[t * 2 * ffn + i] + (bias == null ? 0 : bias[i]);
                float b = gu[t * 2 * ffn + ffn + i] + (bias == null ? 0 : bias[ffn + i]);
                out[t * ffn + i] = Kernels.silu(a) * b;
            }
        }
        return out;
    }

    /**
     * bias_act: DecoderModel's ActivationTask after its up (and gate) products with their biases: rows of
     * [gate | up] (gated: act(gate + bg) * (up + bu)) or of [ffn] (plain: act(a + b)); bias may be null.
     */
    public static float[] biasAct(float[] in, float[] bias, int ffn, TransformerSpec.Activation act, boolean gated) {
        int width = gated ? 2 * ffn : ffn;
        int n = in.length / width;
        float[] out = new float[n * ffn];
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < ffn; i++) {
                float a = in[t * width + i] + (bias == null ? 0 : bias[i]);
                float v = switch (act) {
                    case SILU -> Kernels.silu(a);
                    case GELU_ERF -> Kernels.geluErf(a);
                    case GELU_TANH -> Kernels.geluTanh(a);
                    case RELU -> Kernels.relu(a);
                };
                if (gated) {
                    v *= in[t * width + ffn + i] + (bias == null ? 0 : bias[ffn + i]);
                }
                out[t * ffn + i] = v;
            }
        }
        return out;
    }

    /** add_bias_rows: y[r][c] + bias[c] (a new array). */
    public static float[] addBias(float[] y, float[] bias) {
        float[] out = y.clone();
        for (int r = 0; r < y.length / bias.length; r++) {
            Kernels.add(bias, 0, out, r * bias.length, bias.length);
        }
        return out;
    }

    /** transpose_convert: the [rows][cols] matrix whose input-major storage ([cols][rows]) is {@code in}. */
    public static float[] transpose(float[] in, int rows, int cols) {
        float[] out = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[r * cols + c] = in[c * rows + r];
            }
        }
        return out;
    }

    /** add_f32: a + b element-wise (a new array). */
    public static float[] addInPlace(float[] a, float[] b) {
        float[] out = a.clone();
        for (int i = 0; i < out.length; i++) {
            out[i] += b[i];
        }
        return out;
    }

    /** pick_rows: logits[r][ids[r]] for each row. */
    public static float[] pickRows(float[] logits, int[] ids, int vocab) {
        float[] out = new float[ids.length];
        for (int r = 0; r < ids.length; r++) {
            out[r] = logits[r * vocab + ids[r]];
        }
        return out;
    }

    /** argmax_rows: the first index of each row's maximum. */
    public static int[] argmax(float[] logits, int vocab) {
        int rows = logits.length / vocab;
        int[] ids = new int[rows];
        for (int r = 0; r < rows; r++) {
            int best = 0;
            for (int i = 1; i < vocab; i++) {
                if (logits[r * vocab + i] > logits[r * vocab + best]) {
                    best = i;
                }
            }
            ids[r] = best;
        }
        return ids;
    }

    /** The GEMM twin: out[n][rows] = in[n][cols] · w[rows][cols]^T, accumulated in double. */
    public static float[] gemm(float[] w, int rows, int cols, float[] in, int n) {
        float[] out = new float[n * rows];
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < rows; r++) {
                double s = 0;
                for (int c = 0; c < cols; c++) {
                    s += (double) in[t * cols + c] * w[r * cols + c];
                }
                out[t * rows + r] = (float) s;
            }
        }
        return out;
    }
}
