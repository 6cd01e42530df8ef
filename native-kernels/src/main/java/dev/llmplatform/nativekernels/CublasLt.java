package dev.llmplatform.nativekernels;

import static org.bytedeco.cuda.global.cublas.*;
import static org.bytedeco.cuda.global.cudart.*;

import java.util.HashMap;
import java.util.Map;
import org.bytedeco.cuda.cublas.cublasLtContext;
import org.bytedeco.cuda.cublas.cublasLtMatmulDescOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulHeuristicResult_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulPreferenceOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatrixLayoutOpaque_t;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * The linear layers through cuBLASLt: {@code out[n][rows] (f32) = in[n][cols] · W[rows][cols]^T}, W row-major as
 * nn.Linear stores it and {@code in} in W's element type (f32, bf16 or f16), accumulated in f32
 * ({@code CUBLAS_COMPUTE_32F}: no TF32, so f32 checkpoints compute as transformers does). In cuBLASLt's
 * column-major terms that is D(rows x n) = op_T(W as cols x rows) · in(cols x n). A plan (layouts and the
 * heuristic's algorithm) is made once per shape and reused.
 */
public final class CublasLt implements AutoCloseable {
    private static final long WORKSPACE = 32L << 20;
    private final cublasLtContext handle = new cublasLtContext();
    private final cublasLtMatmulDescOpaque_t desc;
    private final cublasLtMatmulPreferenceOpaque_t pref;
    private final long workspace;
    private final FloatPointer alpha = new FloatPointer(1f);
    private final FloatPointer beta = new FloatPointer(0f);
    private final Map<Long, Plan> plans = new HashMap<>();
    private final CUstream_st stream;

    private record Plan(cublasLtMatrixLayoutOpaque_t a, cublasLtMatrixLayoutOpaque_t b, cublasLtMatrixLayoutOpaque_t d,
                        cublasLtMatmulHeuristicResult_t heuristic) {
    }

    public CublasLt(CUstream_st stream) {
        this.stream = stream;
        check(cublasLtCreate(handle), "cublasLtCreate");
        PointerPointer<?> pp = new PointerPointer<>(1);
        check(cublasLtMatmulDescCreate(pp, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
        desc = new cublasLtMatmulDescOpaque_t(pp.get(0));
        IntPointer opT = new IntPointer(1).put(CUBLAS_OP_T);
        IntPointer opN = new IntPointer(1).put(CUBLAS_OP_N);
        check(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, opT, 4), "set TRANSA");
        check(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, opN, 4), "set TRANSB");
        check(cublasLtMatmulPreferenceCreate(pp), "cublasLtMatmulPreferenceCreate");
        pref = new cublasLtMatmulPreferenceOpaque_t(pp.get(0));
        LongPointer ws = new LongPointer(1).put(WORKSPACE);
        check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, ws, 8), "set workspace");
        workspace = Cuda.malloc(WORKSPACE);
    }

    static void check(int status, String what) {
        if (status != 0) {
            throw new Cuda.CudaException(what + " failed: cublasStatus " + status);
        }
    }

    static int cudaType(int kernelType) {
        return switch (kernelType) {
            case KernelModule.F32 -> CUDA_R_32F;
            case KernelModule.BF16 -> CUDA_R_16BF;
            case KernelModule.F16 -> CUDA_R_16F;
            default -> throw new IllegalArgumentException("element type " + kernelType);
        };
    }

    private cublasLtMatrixLayoutOpaque_t layout(int type, long rows, long cols, long ld) {
        PointerPointer<?> pp = new PointerPointer<>(1);
        check(cublasLtMatrixLayoutCreate(pp, type, rows, cols, ld), "cublasLtMatrixLayoutCreate");
        return new cublasLtMatrixLayoutOpaque_t(pp.get(0));
    }

    private Plan plan(int type, int rows, int cols, int n) {
        long key = ((long) type << 60) ^ ((long) rows << 40) ^ ((long) cols << 20) ^ n;
        Plan p = plans.get(key);
        if (p == null) {
            int t = cudaType(type);
            cublasLtMatrixLayoutOpaque_t a = layout(t, cols, rows, cols);
            cublasLtMatrixLayoutOpaque_t b = layout(t, cols, n, cols);
            cublasLtMatrixLayoutOpaque_t d = layout(CUDA_R_32F, rows, n, rows);
            cublasLtMatmulHeuristicResult_t h = new cublasLtMatmulHeuristicResult_t();
            int[] found = new int[1];
            check(cublasLtMatmulAlgoGetHeuristic(handle, desc, a, b, d, d, pref, 1, h, found),
                    "cublasLtMatmulAlgoGetHeuristic(" + rows + "x" + cols + ", n=" + n + ")");
            if (found[0] == 0) {
                throw new Cuda.CudaException("cuBLASLt has no algorithm for " + rows + "x" + cols + " x n=" + n);
            }
            p = new Plan(a, b, d, h);
            plans.put(key, p);
        }
        return p;
    }

    /** out[n][rows] = in[n][cols] · w[rows][cols]^T; w and in of {@code type}, out f32. */
    public void gemm(long w, int type, int rows, int cols, long in, int n, long out) {
        Plan p = plan(type, rows, cols, n);
        Cuda.Addr dOut = new Cuda.Addr(out);
        check(cublasLtMatmul(handle, desc, alpha, new Cuda.Addr(w), p.a, new Cuda.Addr(in), p.b, beta, dOut, p.d, dOut, p.d,
                p.heuristic.algo(), new Cuda.Addr(workspace), WORKSPACE, stream), "cublasLtMatmul(" + rows + "x" + cols + ", n=" + n + ")");
    }

    @Override
    public void close() {
        for (Plan p : plans.values()) {
            cublasLtMatrixLayoutDestroy(p.a);
            cublasLtMatrixLayoutDestroy(p.b);
            cublasLtMatrixLayoutDestroy(p.d);
        }
        plans.clear();
        cublasLtMatmulPreferenceDestroy(pref);
        cublasLtMatmulDescDestroy(desc);
        cublasLtDestroy(handle);
        Cuda.free(workspace);
    }
}
