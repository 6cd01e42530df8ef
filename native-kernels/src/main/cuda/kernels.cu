// CUDA kernels of the GPU backend: everything a Llama-family decoder needs besides its GEMMs (cuBLASLt).
// Compiled by nvcc during the Maven build into a fatbin (sm_80, sm_90) that the Java side loads with
// cuModuleLoadData; every kernel is extern "C" so its name is its symbol. Each has a CPU twin (see
// dev.llmplatform.nativekernels.CpuTwins) and GpuKernelCheck compares them on random inputs.
//
// Conventions: activations are row-major, one row per token of the batch. The residual stream, q/k/v, GEMM
// outputs and the KV cache are float32; the inputs of GEMMs (norm outputs, attention output, SwiGLU output)
// are written in the weights' element type (dtype codes: 0 f32, 1 bf16, 2 f16) so cuBLASLt reads them as
// they are. The KV cache of one layer is [maxBlocks][blockSize][kvDim]; position p of the sequence whose
// block table starts at tables[tableOff[t]] is row p % blockSize of block tables[tableOff[t] + p / blockSize].
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

__device__ __forceinline__ float load_as_float(const void* p, int dtype, long long i) {
    if (dtype == 1) return __bfloat162float(((const __nv_bfloat16*) p)[i]);
    if (dtype == 2) return __half2float(((const __half*) p)[i]);
    return ((const float*) p)[i];
}

__device__ __forceinline__ void store_from_float(void* p, int dtype, long long i, float v) {
    if (dtype == 1) ((__nv_bfloat16*) p)[i] = __float2bfloat16_rn(v);
    else if (dtype == 2) ((__half*) p)[i] = __float2half_rn(v);
    else ((float*) p)[i] = v;
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the total.
__device__ float block_sum(float v) {
    __shared__ float part[32];
    __shared__ float total;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_sum(v);
    if (lane == 0) part[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float s = lane < (blockDim.x >> 5) ? part[lane] : 0.f;
        s = warp_sum(s);
        if (lane == 0) total = s;
    }
    __syncthreads();
    float r = total;
    __syncthreads();
    return r;
}

// x[t] = table[tokens[t]] (one block per token). Twin: Tensor.getFloat row copy (DecoderModel.embed).
extern "C" __global__ void embed_gather(float* x, const void* table, int dtype, const int* tokens, int hidden) {
    int t = blockIdx.x;
    long long base = (long long) tokens[t] * hidden;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) x[(long long) t * hidden + i] = load_as_float(table, dtype, base + i);
}

// Residual add fused with RMSNorm, one block per output row r, reading row src = rows ? rows[r] : r:
//   v = x[src] + delta[src] + bias        (delta, bias may be null)
//   x[src] = v                            (when writeBack)
//   out[r] = v / sqrt(mean(v^2) + eps) * w, stored as outType
// Twin: Kernels.add + Kernels.rmsNorm.
extern "C" __global__ void add_rmsnorm(float* x, const float* delta, const float* bias, const float* w, void* out,
                                       int outType, const int* rows, int hidden, float eps, int writeBack) {
    int r = blockIdx.x;
    int src = rows ? rows[r] : r;
    float* xr = x + (long long) src * hidden;
    const float* dr = delta ? delta + (long long) src * hidden : nullptr;
    float ss = 0.f;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        float v = xr[i];
        if (dr) v += dr[i];
        if (bias) v += bias[i];
        if (writeBack) xr[i] = v;
        ss += v * v;
    }
    ss = block_sum(ss);
    float inv = (float) (1.0 / sqrt((double) (ss / hidden + eps)));
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        float v = xr[i];
        if (!writeBack) {
            if (dr) v += dr[i];
            if (bias) v += bias[i];
        }
        store_from_float(out, outType, (long long) r * hidden + i, v * inv * w[i]);
    }
}

// In place on qkv rows [q heads | k heads | v heads] (width = (heads + 2 kvHeads) * headDim): adds the
// projection bias (may be null), then rotates q and k heads "rotate half" style (NeoX/Llama) over their first
// 2*rotHalf elements with angle (float) position * invFreq[i], cos/sin scaled by scale. One block per token.
// Twin: RotaryEmbedding.angles + RotaryEmbedding.rotate.
extern "C" __global__ void bias_rope_qk(float* qkv, const float* bias, const int* positions, const float* invFreq,
                                        float scale, int heads, int kvHeads, int headDim, int rotHalf) {
    int t = blockIdx.x;
    int width = (heads + 2 * kvHeads) * headDim;
    float* row = qkv + (long long) t * width;
    if (bias) {
        for (int i = threadIdx.x; i < width; i += blockDim.x) row[i] += bias[i];
        __syncthreads();
    }
    float p = (float) positions[t];
    int pairs = (heads + kvHeads) * rotHalf;
    for (int j = threadIdx.x; j < pairs; j += blockDim.x) {
        int head = j / rotHalf, i = j % rotHalf;
        float a = p * invFreq[i];
        float c = (float) cos((double) a) * scale;
        float s = (float) sin((double) a) * scale;
        float* v = row + head * headDim;
        float x1 = v[i], x2 = v[rotHalf + i];
        v[i] = x1 * c - x2 * s;
        v[rotHalf + i] = x2 * c + x1 * s;
    }
}

// Copies each token's k and v (from its qkv row) into its sequence's paged cache of one layer. One block per
// token. Twin: the System.arraycopy into KvCache.keyBlock/valueBlock of DecoderModel.applyRopeAndStore.
extern "C" __global__ void kv_cache_write(const float* qkv, float* kCache, float* vCache, const int* positions,
                                          const int* tableOff, const int* tables, int qDim, int kvDim, int blockSize) {
    int t = blockIdx.x;
    int width = qDim + 2 * kvDim;
    int p = positions[t];
    long long block = tables[tableOff[t] + p / blockSize];
    long long dst = (block * blockSize + p % blockSize) * kvDim;
    const float* row = qkv + (long long) t * width;
    for (int i = threadIdx.x; i < kvDim; i += blockDim.x) {
        kCache[dst + i] = row[qDim + i];
        vCache[dst + i] = row[qDim + kvDim + i];
    }
}

#define ATT_MAX_WARPS 16
#define ATT_MAX_PER_LANE 8   // head dims up to 256

// Attention of every (token, query head) over its own sequence's paged cache, positions
// [max(0, p - window + 1), p] (window 0: all), as one launch for the whole batch: grid (tokens, heads),
// blockDim.x / 32 warps per block (at most ATT_MAX_WARPS; the launcher picks fewer for big batches). Grouped-query: head h reads kv head h / (heads / kvHeads). Each warp takes every
// (warps)-th position with an online softmax (running max, sum, weighted values); the warps merge at the end.
// Decode steps and prefill chunks alike (the cache already holds this step's keys). out[t, h*headDim + d] in
// outType. Twin: DecoderModel's AttentionTask (Kernels.dot, softmax, axpy), see CpuTwins.attention.
extern "C" __global__ void paged_attention(const float* qkv, void* out, int outType, const float* kCache,
                                           const float* vCache, const int* positions, const int* tableOff,
                                           const int* tables, int heads, int kvHeads, int headDim, int blockSize,
                                           float scale, int window) {
    int t = blockIdx.x, h = blockIdx.y;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    int kvDim = kvHeads * headDim;
    int width = (heads + 2 * kvHeads) * headDim;
    int g = h / (heads / kvHeads);
    int p = positions[t];
    int start = window > 0 ? max(0, p - window + 1) : 0;
    const int* table = tables + tableOff[t];
    const float* q = qkv + (long long) t * width + h * headDim;
    float qr[ATT_MAX_PER_LANE], acc[ATT_MAX_PER_LANE];
#pragma unroll
    for (int e = 0; e < ATT_MAX_PER_LANE; e++) {
        int d = lane + 32 * e;
        qr[e] = d < headDim ? q[d] : 0.f;
        acc[e] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    for (int j = start + warp; j <= p; j += nw) {
        long long row = ((long long) table[j / blockSize] * blockSize + j % blockSize) * kvDim + g * headDim;
        const float* kr = kCache + row;
        float dot = 0.f;
#pragma unroll
        for (int e = 0; e < ATT_MAX_PER_LANE; e++) {
            int d = lane + 32 * e;
            if (d < headDim) dot += qr[e] * kr[d];
        }
        float sc = warp_sum(dot) * scale;
        float mNew = fmaxf(m, sc);
        float corr = __expf(m - mNew);
        float pj = __expf(sc - mNew);
        l = l * corr + pj;
        const float* vr = vCache + row;
#pragma unroll
        for (int e = 0; e < ATT_MAX_PER_LANE; e++) {
            int d = lane + 32 * e;
            acc[e] = acc[e] * corr + (d < headDim ? pj * vr[d] : 0.f);
        }
        m = mNew;
    }
    __shared__ float sm[ATT_MAX_WARPS], sl[ATT_MAX_WARPS];
    __shared__ float sacc[ATT_MAX_WARPS][ATT_MAX_PER_LANE * 32];
    if (lane == 0) { sm[warp] = m; sl[warp] = l; }
#pragma unroll
    for (int e = 0; e < ATT_MAX_PER_LANE; e++) sacc[warp][lane + 32 * e] = acc[e];
    __syncthreads();
    float M = -INFINITY;
    for (int w = 0; w < nw; w++) M = fmaxf(M, sm[w]);
    float L = 0.f;
    for (int w = 0; w < nw; w++) if (sm[w] != -INFINITY) L += sl[w] * __expf(sm[w] - M);
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        float s = 0.f;
        for (int w = 0; w < nw; w++) if (sm[w] != -INFINITY) s += sacc[w][d] * __expf(sm[w] - M);
        store_from_float(out, outType, (long long) t * heads * headDim + h * headDim + d, s / L);
    }
}

// SwiGLU over the fused gate/up GEMM output gu[t] = [gate (ffn) | up (ffn)] (+ bias [2 ffn], may be null):
// out[t, i] = silu(gate) * up, in outType. Grid-stride over n * ffn. Twin: Kernels.silu(a) * b.
extern "C" __global__ void swiglu(const float* gu, const float* bias, void* out, int outType, int ffn, long long total) {
    for (long long k = blockIdx.x * (long long) blockDim.x + threadIdx.x; k < total; k += (long long) gridDim.x * blockDim.x) {
        long long t = k / ffn;
        int i = (int) (k % ffn);
        float a = gu[t * 2 * ffn + i], b = gu[t * 2 * ffn + ffn + i];
        if (bias) { a += bias[i]; b += bias[ffn + i]; }
        float s = a / (1.f + expf(-a));
        store_from_float(out, outType, k, s * b);
    }
}

// Greedy sampling: ids[r] = argmax of logits row r (the lowest index among equal maxima). One block per row.
// Twin: CpuTwins.argmax.
extern "C" __global__ void argmax_rows(const float* logits, int* ids, int vocab) {
    __shared__ float bv[32];
    __shared__ int bi[32];
    const float* row = logits + (long long) blockIdx.x * vocab;
    float best = -INFINITY;
    int idx = 0x7fffffff;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
        float v = row[i];
        if (v > best || (v == best && i < idx)) { best = v; idx = i; }
    }
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, best, o);
        int oi = __shfl_xor_sync(0xffffffffu, idx, o);
        if (ov > best || (ov == best && oi < idx)) { best = ov; idx = oi; }
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) { bv[warp] = best; bi[warp] = idx; }
    __syncthreads();
    if (warp == 0) {
        int nw = blockDim.x >> 5;
        best = lane < nw ? bv[lane] : -INFINITY;
        idx = lane < nw ? bi[lane] : 0x7fffffff;
        for (int o = 16; o > 0; o >>= 1) {
            float ov = __shfl_xor_sync(0xffffffffu, best, o);
            int oi = __shfl_xor_sync(0xffffffffu, idx, o);
            if (ov > best || (ov == best && oi < idx)) { best = ov; idx = oi; }
        }
        if (lane == 0) ids[blockIdx.x] = idx == 0x7fffffff ? 0 : idx;
    }
}

// Converts n values between element types (weights upcast at load, test inputs).
extern "C" __global__ void convert(const void* in, int inType, void* out, int outType, long long n) {
    for (long long k = blockIdx.x * (long long) blockDim.x + threadIdx.x; k < n; k += (long long) gridDim.x * blockDim.x)
        store_from_float(out, outType, k, load_as_float(in, inType, k));
}
