package dev.llmplatform.engine.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Element-wise and per-vector kernels of the transformer: norms, activations, softmax, dot products. Each works on
 * one vector at {@code array[offset .. offset + n)}; callers loop over tokens and heads. Vector API paths with a
 * scalar tail. Reductions accumulate in float, as PyTorch's float32 CPU kernels do.
 */
public final class Kernels {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();

    private Kernels() {
    }

    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i + L <= n; i += L) {
            acc = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    /** {@code y[yOff..] += alpha * x[xOff..]}. */
    public static void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        FloatVector va = FloatVector.broadcast(F, alpha);
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(F, x, xOff + i).fma(va, FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += alpha * x[xOff + i];
        }
    }

    /** {@code y[yOff..] += x[xOff..]}. */
    public static void add(float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(F, x, xOff + i).add(FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += x[xOff + i];
        }
    }

    /** RMSNorm: {@code out = x / sqrt(mean(x^2) + eps) * weight}. */
    public static void rmsNorm(float[] out, int outOff, float[] x, int xOff, float[] weight, int n, float eps) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, xOff + i);
            acc = v.fma(v, acc);
        }
        float ss = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            ss += x[xOff + i] * x[xOff + i];
        }
        float inv = (float) (1.0 / Math.sqrt(ss / n + eps));
        i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(F, x, xOff + i).mul(inv).mul(FloatVector.fromArray(F, weight, i)).intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            out[outOff + i] = x[xOff + i] * inv * weight[i];
        }
    }

    /** LayerNorm: {@code out = (x - mean) / sqrt(var + eps) * weight + bias}; {@code bias} may be null. */
    public static void layerNorm(float[] out, int outOff, float[] x, int xOff, float[] weight, float[] bias, int n, float eps) {
        float mean = 0f;
        {
            FloatVector acc = FloatVector.zero(F);
            int i = 0;
            for (; i + L <= n; i += L) {
                acc = acc.add(FloatVector.fromArray(F, x, xOff + i));
            }
            mean = acc.reduceLanes(VectorOperators.ADD);
            for (; i < n; i++) {
                mean += x[xOff + i];
            }
            mean /= n;
        }
        float var;
        {
            FloatVector acc = FloatVector.zero(F);
            int i = 0;
            for (; i + L <= n; i += L) {
                FloatVector d = FloatVector.fromArray(F, x, xOff + i).sub(mean);
                acc = d.fma(d, acc);
            }
            var = acc.reduceLanes(VectorOperators.ADD);
            for (; i < n; i++) {
                float d = x[xOff + i] - mean;
                var += d * d;
            }
            var /= n;
        }
        float inv = (float) (1.0 / Math.sqrt(var + eps));
        for (int i = 0; i < n; i++) {
            float v = (x[xOff + i] - mean) * inv * weight[i];
            out[outOff + i] = bias == null ? v : v + bias[i];
        }
    }

    /** In-place softmax over {@code a[off .. off+n)}. */
    public static void softmax(float[] a, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, a[off + i]);
        }
        float sum = 0f;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(a[off + i] - max);
            a[off + i] = e;
            sum += e;
        }
        float inv = 1f / sum;
        for (int i = 0; i < n; i++) {
            a[off + i] *= inv;
        }
    }

    public static float silu(float x) {
        return (float) (x / (1.0 + Math.exp(-x)));
    }

    /** GELU with the tanh approximation (gelu_new, gelu_pytorch_tanh, BLOOM's gelu). */
    public static float geluTanh(float x) {
        double x3 = (double) x * x * x;
        return (float) (0.5 * x * (1.0 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x3))));
    }

    /** Exact GELU, {@code x * Phi(x)}, as torch.nn.functional.gelu. */
    public static float geluErf(float x) {
        return (float) (0.5 * x * (1.0 + erf(x / 1.4142135623730951)));
    }

    public static float relu(float x) {
        return Math.max(0f, x);
    }

    /**
     * The error function to double precision (~1e-15), from the complementary error function's Chebyshev fit
     * in Numerical Recipes (erfc ≈ t·exp(-z² + P(t))), since java.lang.Math has none.
     */
    public static double erf(double x) {
        double z = Math.abs(x);
        double t = 2.0 / (2.0 + z);
        double ty = 4.0 * t - 2.0;
        double d = 0.0;
        double dd = 0.0;
        for (int j = ERFC_COF.length - 1; j > 0; j--) {
            double tmp = d;
            d = ty * d - dd + ERFC_COF[j];
            dd = tmp;
        }
        double erfc = t * Math.exp(-z * z + 0.5 * (ERFC_COF[0] + ty * d) - dd);
        return x >= 0 ? 1.0 - erfc : erfc - 1.0;
    }

    private static final double[] ERFC_COF = {
        -1.3026537197817094, 6.4196979235649026e-1, 1.9476473204185836e-2, -9.561514786808631e-3,
        -9.46595344482036e-4, 3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5,
        -1.624290004647e-6, 1.303655835580e-6, 1.5626441722e-8, -8.5238095915e-8,
        6.529054439e-9, 5.059343495e-9, -9.91364156e-10, -2.27365122e-10,
        9.6467911e-11, 2.394038e-12, -6.886027e-12, 8.94487e-13, 3.13092e-13,
        -1.12708e-13, 3.81e-16, 7.106e-15, -1.523e-15, -9.4e-17, 1.21e-16, -2.8e-17
    };
}
