// CUDA kernels of the GPU backend: everything the engine's decoder families (llama, mistral, qwen2, gpt2, gptj,
// falcon, mpt, bloom) need besides their GEMMs (cuBLASLt).
// Compiled by nvcc during the Maven build into a fatbin (sm_80, sm_90) that the Java side loads with
// cuModuleLoadData; every kernel is extern "C" so its name is its symbol. Each has a CPU twin (see
// dev.llmplatform.nativekernels.CpuTwins) and GpuVerify's kernels section compares them on random inputs.
//
// Conventions: activations are row-major, one row per token of the batch. The residual stream, q/k/v and GEMM
// outputs are float32; the inputs of GEMMs (norm outputs, attention output, SwiGLU output) are written in the
// weights' element type (dtype codes: 0 f32, 1 bf16, 2 f16) so cuBLASLt reads them as they are. The KV cache is
// f32 or bf16 (kvType); one layer's is [maxBlocks][blockSize][kvDim]; position p of the sequence whose block
// table starts at tables[tableOff[t]] is row p % blockSize of block tables[tableOff[t] + p / blockSize].
//
// Every kernel takes its sizes and its per-token data (token ids, positions, block tables) from arguments and
// device buffers, never from the host at run time, so a decode step can be captured once as a CUDA graph and
// replayed with new ids, positions and tables copied into the same buffers.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <math.h>

// Programmatic dependent launch (sm_90+, KernelModule.setProgrammaticLaunch): a kernel launched as a programmatic
// dependent may be scheduled while the kernel before it in the stream still runs. pdl_begin() first waits for that
// kernel to complete and its memory to be visible (griddepcontrol.wait), so nothing is read early, then lets the next
// kernel start launching (griddepcontrol.launch_dependents). Launched normally, both are no-ops. Every kernel that
// KernelModule.PDL_KERNELS names calls it before touching memory the previous kernel may write.
__device__ __forceinline__ void pdl_begin() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

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

// x[t] = table[tokens[t]] (one block per token), plus posTable[positions[t]] when posTable is not null (learned
// absolute position embeddings: GPT-2, MPT without ALiBi). Twin: DecoderModel.embed (CpuTwins.embedGather).
extern "C" __global__ void embed_gather(float* x, const void* table, int dtype, const int* tokens, int hidden,
                                        const void* posTable, int posType, const int* positions) {
    pdl_begin();
    int t = blockIdx.x;
    long long base = (long long) tokens[t] * hidden;
    long long pbase = posTable ? (long long) positions[t] * hidden : 0;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        float v = load_as_float(table, dtype, base + i);
        if (posTable) v += load_as_float(posTable, posType, pbase + i); // as the engine: token row, then += position row
        x[(long long) t * hidden + i] = v;
    }
}

// Residual add fused with RMSNorm, one block per output row r, reading row src = rows ? rows[r] : r:
//   v = x[src] + delta[src] + bias        (delta, bias may be null)
//   x[src] = v                            (when writeBack)
//   out[r] = v / sqrt(mean(v^2) + eps) * w, stored as outType
// Twin: Kernels.add + Kernels.rmsNorm.
extern "C" __global__ void add_rmsnorm(float* x, const float* delta, const float* bias, const float* w, void* out,
                                       int outType, const int* rows, int hidden, float eps, int writeBack) {
    pdl_begin();
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

// The general residual add + norm of every family (add_rmsnorm above stays the Llama path). One block per output
// row r, reading row src = rows ? rows[r] : r:
//   v = x[src] + (d1[src] + b1) + (d2[src] + b2)   (each of d1, b1, d2, b2 may be null; the sums in this order are
//                                                   the engine's: x += proj (its bias inside), then x += mlpOut)
//   kind 0 (RMSNorm):   o = v / sqrt(mean(v^2) + eps) * w
//   kind 1 (LayerNorm): o = (v - mean(v)) / sqrt(var(v) + eps) * w (+ nb when not null)
//   out[r] = o as outType
//   mode 0: x untouched; 1: x[src] = v (the residual stream moves on); 2: x[src] = o in f32 (BLOOM's
//   apply_residual_connection_post_layernorm: the residual is the norm's output)
// Two deltas serve the parallel-residual blocks (GPT-J, Falcon), whose attention and MLP outputs both join the
// stream before the next norm. out may be x itself (f32, mode 0: BLOOM's embedding LayerNorm in place): every thread
// reads and writes only its own elements, and the last pass starts after the block-wide sums' barriers.
// Twin: Kernels.add + Kernels.rmsNorm / Kernels.layerNorm (CpuTwins.addNorm).
__device__ __forceinline__ float residual_sum(const float* xr, const float* d1, const float* b1, const float* d2,
                                              const float* b2, int i) {
    float v = xr[i];
    if (d1) v += b1 ? d1[i] + b1[i] : d1[i];
    else if (b1) v += b1[i];
    if (d2) v += b2 ? d2[i] + b2[i] : d2[i];
    else if (b2) v += b2[i];
    return v;
}

extern "C" __global__ void add_norm(float* x, const float* d1, const float* b1, const float* d2, const float* b2,
                                    const float* w, const float* nb, void* out, int outType, const int* rows,
                                    int hidden, float eps, int kind, int mode) {
    pdl_begin();
    int r = blockIdx.x;
    int src = rows ? rows[r] : r;
    float* xr = x + (long long) src * hidden;
    const float* d1r = d1 ? d1 + (long long) src * hidden : nullptr;
    const float* d2r = d2 ? d2 + (long long) src * hidden : nullptr;
    // Pass 1: the sum (mode 1 stores it, and later passes read it back instead of adding again).
    float s = 0.f;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        float v = residual_sum(xr, d1r, b1, d2r, b2, i);
        if (mode == 1) xr[i] = v;
        s += kind == 0 ? v * v : v;
    }
    s = block_sum(s);
    float mean = 0.f, inv;
    if (kind == 0) {
        inv = (float) (1.0 / sqrt((double) (s / hidden + eps)));
    } else {
        // Pass 2 (LayerNorm): the variance around the mean, two-pass as the engine's Kernels.layerNorm.
        mean = s / hidden;
        float q = 0.f;
        for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
            float d = (mode == 1 ? xr[i] : residual_sum(xr, d1r, b1, d2r, b2, i)) - mean;
            q += d * d;
        }
        q = block_sum(q);
        inv = (float) (1.0 / sqrt((double) (q / hidden + eps)));
    }
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        float v = mode == 1 ? xr[i] : residual_sum(xr, d1r, b1, d2r, b2, i);
        float o = (v - mean) * inv * w[i];
        if (nb) o += nb[i];
        if (mode == 2) xr[i] = o;
        store_from_float(out, outType, (long long) r * hidden + i, o);
    }
}

// In place on qkv rows [q heads | k heads | v heads] (width = (heads + 2 kvHeads) * headDim): adds the
// projection bias (may be null), clamps every element to [-clip, clip] when clip > 0 (MPT's clip_qkv, after the
// bias as the engine does), then rotates q and k heads over their first 2*rotHalf elements (rotHalf < headDim / 2:
// partial rotary, the rest passes through; rotHalf 0: no rotary, invFreq unused) with angle
// (float) position * invFreq[i], cos/sin scaled by scale. Pair i is (i, rotHalf + i) "rotate half" style
// (NeoX/Llama/Falcon), or (2i, 2i + 1) when interleaved (GPT-J). One block per token.
// Twin: RotaryEmbedding.angles + RotaryEmbedding.rotate (CpuTwins.biasRopeQk).
extern "C" __global__ void bias_rope_qk(float* qkv, const float* bias, const int* positions, const float* invFreq,
                                        float scale, int heads, int kvHeads, int headDim, int rotHalf,
                                        int interleaved, float clip) {
    pdl_begin();
    int t = blockIdx.x;
    int width = (heads + 2 * kvHeads) * headDim;
    float* row = qkv + (long long) t * width;
    if (bias || clip > 0.f) {
        for (int i = threadIdx.x; i < width; i += blockDim.x) {
            float v = row[i];
            if (bias) v += bias[i];
            if (clip > 0.f) v = fmaxf(-clip, fminf(clip, v));
            row[i] = v;
        }
        __syncthreads(); // the rotation below pairs elements that other threads wrote
    }
    float p = (float) positions[t];
    int pairs = (heads + kvHeads) * rotHalf;
    for (int j = threadIdx.x; j < pairs; j += blockDim.x) {
        int head = j / rotHalf, i = j % rotHalf;
        float a = p * invFreq[i];
        float c = (float) cos((double) a) * scale;
        float s = (float) sin((double) a) * scale;
        float* v = row + head * headDim;
        int i1 = interleaved ? 2 * i : i, i2 = interleaved ? 2 * i + 1 : rotHalf + i;
        float x1 = v[i1], x2 = v[i2];
        v[i1] = x1 * c - x2 * s;
        v[i2] = x2 * c + x1 * s;
    }
}

// Copies each token's k and v (from its qkv row) into its sequence's paged cache of one layer, stored as kvType
// (0 f32, 1 bf16). One block per token. Twin: the System.arraycopy into KvCache.keyBlock/valueBlock of
// DecoderModel.applyRopeAndStore (values rounded to bf16 first for a bf16 cache, see CpuTwins.kvCacheWrite).
extern "C" __global__ void kv_cache_write(const float* qkv, void* kCache, void* vCache, int kvType, const int* positions,
                                          const int* tableOff, const int* tables, int qDim, int kvDim, int blockSize) {
    pdl_begin();
    int t = blockIdx.x;
    int width = qDim + 2 * kvDim;
    int p = positions[t];
    long long block = tables[tableOff[t] + p / blockSize];
    long long dst = (block * blockSize + p % blockSize) * kvDim;
    const float* row = qkv + (long long) t * width;
    if (kvType == 3) {
        // FP8 E4M3 (scale 1: rounded to nearest even, saturated at +-448, as vLLM's fp8 cache without scales)
        for (int i = threadIdx.x; i < kvDim; i += blockDim.x) {
            ((__nv_fp8_e4m3*) kCache)[dst + i] = __nv_fp8_e4m3(row[qDim + i]);
            ((__nv_fp8_e4m3*) vCache)[dst + i] = __nv_fp8_e4m3(row[qDim + kvDim + i]);
        }
        return;
    }
    for (int i = threadIdx.x; i < kvDim; i += blockDim.x) {
        store_from_float(kCache, kvType, dst + i, row[qDim + i]);
        store_from_float(vCache, kvType, dst + i, row[qDim + kvDim + i]);
    }
}

#define ATT_MAX_WARPS 16
#define ATT_MAX_PER_LANE 8   // head dims up to 256

// Attention of every (token, query head) over its own sequence's paged cache, positions
// [max(0, p - window + 1), p] (window 0: all), as one launch for the whole batch: grid (tokens, heads),
// blockDim.x / 32 warps per block (at most ATT_MAX_WARPS; the launcher picks fewer for big batches). Grouped-query: head h reads kv head h / (heads / kvHeads). Each warp takes every
// (warps)-th position with an online softmax (running max, sum, weighted values); the warps merge at the end.
// Decode steps and prefill chunks alike (the cache already holds this step's keys). out[t, h*headDim + d] in
// outType. ALiBi (BLOOM, MPT, Falcon with alibi) adds slopes[h] * (j - p) to the score of position j, after the
// scale (the caller folds the scale into the slopes for Falcon, which adds the bias before scaling);
// paged_attention_alibi is that variant (ALIBI template parameter), paged_attention the one without, so models
// without ALiBi run the code they ran before it existed. The cache's element type KV (float or bf16) is a template
// parameter, so the inner loop has no branch on it. Twin: DecoderModel's AttentionTask (Kernels.dot, softmax, axpy), see CpuTwins.attention.
__device__ __forceinline__ float kv_load(const float* p, long long i) { return p[i]; }
__device__ __forceinline__ float kv_load(const __nv_bfloat16* p, long long i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ float kv_load(const __nv_fp8_e4m3* p, long long i) { return (float) p[i]; }

template <typename KV, bool ALIBI>
__device__ void paged_attention_body(const float* qkv, void* out, int outType, const KV* kCache,
                                     const KV* vCache, const int* positions, const int* tableOff,
                                     const int* tables, int heads, int kvHeads, int headDim, int blockSize,
                                     float scale, int window, const float* slopes, float* sm, float* sl,
                                     float (*sacc)[ATT_MAX_PER_LANE * 32]) {
    int t = blockIdx.x, h = blockIdx.y;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    int kvDim = kvHeads * headDim;
    int width = (heads + 2 * kvHeads) * headDim;
    int g = h / (heads / kvHeads);
    int p = positions[t];
    int start = window > 0 ? max(0, p - window + 1) : 0;
    float slope = ALIBI ? slopes[h] : 0.f;
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
        const KV* kr = kCache + row;
        const KV* vr = vCache + row;
        float kv[ATT_MAX_PER_LANE], vv[ATT_MAX_PER_LANE];
#pragma unroll
        for (int e = 0; e < ATT_MAX_PER_LANE; e++) {
            int d = lane + 32 * e;
            kv[e] = d < headDim ? kv_load(kr, d) : 0.f;
            vv[e] = d < headDim ? kv_load(vr, d) : 0.f; // issued with the keys: one memory round trip per position
        }
        float dot = 0.f;
#pragma unroll
        for (int e = 0; e < ATT_MAX_PER_LANE; e++) dot += qr[e] * kv[e];
        float sc = warp_sum(dot) * scale;
        if constexpr (ALIBI) sc += slope * (float) (j - p);
        float mNew = fmaxf(m, sc);
        float corr = __expf(m - mNew);
        float pj = __expf(sc - mNew);
        l = l * corr + pj;
#pragma unroll
        for (int e = 0; e < ATT_MAX_PER_LANE; e++) acc[e] = acc[e] * corr + pj * vv[e];
        m = mNew;
    }
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

// PL consecutive elements of a row (PL = headDim / 32 per lane) as floats, in one or two vector loads: a warp reads
// a whole head row of keys or values in one instruction (512 B f32 or 256 B bf16 for head dim 128).
template <int PL> __device__ __forceinline__ void load_row_part(const float* p, float* out) {
    if constexpr (PL % 4 == 0) {
#pragma unroll
        for (int i = 0; i < PL; i += 4) {
            float4 v = *(const float4*) (p + i);
            out[i] = v.x; out[i + 1] = v.y; out[i + 2] = v.z; out[i + 3] = v.w;
        }
    } else {
        float2 v = *(const float2*) p;
        out[0] = v.x; out[1] = v.y;
    }
}

// Two bf16 in a 32-bit word (the lower address in the low half) as floats.
__device__ __forceinline__ void bf16x2_to_float(unsigned v, float* out) {
    out[0] = __uint_as_float(v << 16);
    out[1] = __uint_as_float(v & 0xffff0000u);
}

template <int PL> __device__ __forceinline__ void load_row_part(const __nv_bfloat16* p, float* out) {
    if constexpr (PL == 8) {
        uint4 v = *(const uint4*) p;
        bf16x2_to_float(v.x, out); bf16x2_to_float(v.y, out + 2); bf16x2_to_float(v.z, out + 4); bf16x2_to_float(v.w, out + 6);
    } else if constexpr (PL == 4) {
        uint2 v = *(const uint2*) p;
        bf16x2_to_float(v.x, out); bf16x2_to_float(v.y, out + 2);
    } else {
        bf16x2_to_float(*(const unsigned*) p, out);
    }
}

// Two FP8 E4M3 values in 16 bits (the lower address in the low byte) as floats.
__device__ __forceinline__ void fp8x2_to_float(unsigned short v, float* out) {
    __half2_raw h = __nv_cvt_fp8x2_to_halfraw2((__nv_fp8x2_storage_t) v, __NV_E4M3);
    float2 f = __half22float2(*(const __half2*) &h);
    out[0] = f.x; out[1] = f.y;
}

template <int PL> __device__ __forceinline__ void load_row_part(const __nv_fp8_e4m3* p, float* out) {
    if constexpr (PL == 8) {
        uint2 v = *(const uint2*) p;
        fp8x2_to_float(v.x & 0xffff, out); fp8x2_to_float(v.x >> 16, out + 2);
        fp8x2_to_float(v.y & 0xffff, out + 4); fp8x2_to_float(v.y >> 16, out + 6);
    } else if constexpr (PL == 4) {
        unsigned v = *(const unsigned*) p;
        fp8x2_to_float(v & 0xffff, out); fp8x2_to_float(v >> 16, out + 2);
    } else {
        fp8x2_to_float(*(const unsigned short*) p, out);
    }
}

// The same attention for head dims 64, 128 and 256 (PL = 2, 4, 8 elements per lane): lane i holds elements
// [i PL, (i + 1) PL) of q, of each key and value row (vector loads) and of its accumulator, and each warp takes U
// consecutive positions per iteration (positions [start + U (w + k nw), + U) for warp w), loading their keys and
// values together and reducing their U dot products together, so U memory round trips overlap instead of
// following one another. Same online softmax and merge as the generic body.
template <typename KV, int PL, int U, bool ALIBI>
__device__ void paged_attention_vec(const float* qkv, void* out, int outType, const KV* kCache,
                                    const KV* vCache, const int* positions, const int* tableOff,
                                    const int* tables, int heads, int kvHeads, int blockSize, float scale,
                                    int window, const float* slopes, float* sm, float* sl,
                                    float (*sacc)[ATT_MAX_PER_LANE * 32]) {
    constexpr int headDim = PL * 32;
    int t = blockIdx.x, h = blockIdx.y;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    int kvDim = kvHeads * headDim;
    int width = (heads + 2 * kvHeads) * headDim;
    int g = h / (heads / kvHeads);
    int p = positions[t];
    int start = window > 0 ? max(0, p - window + 1) : 0;
    float slope = ALIBI ? slopes[h] : 0.f;
    const int* table = tables + tableOff[t];
    float qr[PL], acc[PL];
    load_row_part<PL>(qkv + (long long) t * width + h * headDim + lane * PL, qr);
#pragma unroll
    for (int e = 0; e < PL; e++) acc[e] = 0.f;
    float m = -INFINITY, l = 0.f;
    for (int j0 = start + warp * U; j0 <= p; j0 += nw * U) {
        float kv[U][PL], vv[U][PL], s[U];
#pragma unroll
        for (int u = 0; u < U; u++) {
            int j = j0 + u;
            if (j <= p) {
                long long row = ((long long) table[j / blockSize] * blockSize + j % blockSize) * kvDim + g * headDim + lane * PL;
                load_row_part<PL>(kCache + row, kv[u]);
                load_row_part<PL>(vCache + row, vv[u]);
            } else {
#pragma unroll
                for (int e = 0; e < PL; e++) { kv[u][e] = 0.f; vv[u][e] = 0.f; }
            }
        }
#pragma unroll
        for (int u = 0; u < U; u++) {
            float d = 0.f;
#pragma unroll
            for (int e = 0; e < PL; e++) d += qr[e] * kv[u][e];
            s[u] = d;
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
#pragma unroll
            for (int u = 0; u < U; u++) s[u] += __shfl_xor_sync(0xffffffffu, s[u], o);
        }
        float mNew = m;
#pragma unroll
        for (int u = 0; u < U; u++) {
            float su = s[u] * scale;
            if constexpr (ALIBI) su += slope * (float) (j0 + u - p);
            s[u] = j0 + u <= p ? su : -INFINITY;
            mNew = fmaxf(mNew, s[u]);
        }
        float corr = __expf(m - mNew); // j0 <= p, so mNew is finite
        l *= corr;
#pragma unroll
        for (int e = 0; e < PL; e++) acc[e] *= corr;
#pragma unroll
        for (int u = 0; u < U; u++) {
            float pu = __expf(s[u] - mNew);
            l += pu;
#pragma unroll
            for (int e = 0; e < PL; e++) acc[e] += pu * vv[u][e];
        }
        m = mNew;
    }
    if (lane == 0) { sm[warp] = m; sl[warp] = l; }
#pragma unroll
    for (int e = 0; e < PL; e++) sacc[warp][lane * PL + e] = acc[e];
    __syncthreads();
    float M = -INFINITY;
    for (int w = 0; w < nw; w++) M = fmaxf(M, sm[w]);
    float L = 0.f;
    for (int w = 0; w < nw; w++) if (sm[w] != -INFINITY) L += sl[w] * __expf(sm[w] - M);
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        float r = 0.f;
        for (int w = 0; w < nw; w++) if (sm[w] != -INFINITY) r += sacc[w][d] * __expf(sm[w] - M);
        store_from_float(out, outType, (long long) t * heads * headDim + h * headDim + d, r / L);
    }
}

template <typename KV, bool ALIBI>
__device__ void paged_attention_dispatch(const float* qkv, void* out, int outType, const KV* k, const KV* v,
                                         const int* positions, const int* tableOff, const int* tables, int heads,
                                         int kvHeads, int headDim, int blockSize, float scale, int window,
                                         const float* slopes, float* sm, float* sl, float (*sacc)[ATT_MAX_PER_LANE * 32]) {
    if (headDim == 128)
        paged_attention_vec<KV, 4, 4, ALIBI>(qkv, out, outType, k, v, positions, tableOff, tables, heads, kvHeads, blockSize, scale, window, slopes, sm, sl, sacc);
    else if (headDim == 64)
        paged_attention_vec<KV, 2, 4, ALIBI>(qkv, out, outType, k, v, positions, tableOff, tables, heads, kvHeads, blockSize, scale, window, slopes, sm, sl, sacc);
    else if (headDim == 256)
        paged_attention_vec<KV, 8, 2, ALIBI>(qkv, out, outType, k, v, positions, tableOff, tables, heads, kvHeads, blockSize, scale, window, slopes, sm, sl, sacc);
    else
        paged_attention_body<KV, ALIBI>(qkv, out, outType, k, v, positions, tableOff, tables, heads, kvHeads, headDim, blockSize, scale, window, slopes, sm, sl, sacc);
}

// The warps' partial results, declared once per kernel rather than in each instantiation of the body.
#define ATT_SHARED __shared__ float sm[ATT_MAX_WARPS], sl[ATT_MAX_WARPS]; \
                   __shared__ float sacc[ATT_MAX_WARPS][ATT_MAX_PER_LANE * 32];

template <bool ALIBI>
__device__ __forceinline__ void paged_attention_kv(const float* qkv, void* out, int outType, const void* kCache,
                                                   const void* vCache, int kvType, const int* positions,
                                                   const int* tableOff, const int* tables, int heads, int kvHeads,
                                                   int headDim, int blockSize, float scale, int window,
                                                   const float* slopes, float* sm, float* sl,
                                                   float (*sacc)[ATT_MAX_PER_LANE * 32]) {
    if (kvType == 3)
        paged_attention_dispatch<__nv_fp8_e4m3, ALIBI>(qkv, out, outType, (const __nv_fp8_e4m3*) kCache, (const __nv_fp8_e4m3*) vCache,
                                                       positions, tableOff, tables, heads, kvHeads, headDim, blockSize, scale, window, slopes, sm, sl, sacc);
    else if (kvType == 1)
        paged_attention_dispatch<__nv_bfloat16, ALIBI>(qkv, out, outType, (const __nv_bfloat16*) kCache, (const __nv_bfloat16*) vCache,
                                                       positions, tableOff, tables, heads, kvHeads, headDim, blockSize, scale, window, slopes, sm, sl, sacc);
    else
        paged_attention_dispatch<float, ALIBI>(qkv, out, outType, (const float*) kCache, (const float*) vCache,
                                               positions, tableOff, tables, heads, kvHeads, headDim, blockSize, scale, window, slopes, sm, sl, sacc);
}

// Without ALiBi (slopes unused, may be null).
extern "C" __global__ void paged_attention(const float* qkv, void* out, int outType, const void* kCache,
                                           const void* vCache, int kvType, const int* positions, const int* tableOff,
                                           const int* tables, int heads, int kvHeads, int headDim, int blockSize,
                                           float scale, int window, const float* slopes) {
    pdl_begin();
    ATT_SHARED
    paged_attention_kv<false>(qkv, out, outType, kCache, vCache, kvType, positions, tableOff, tables, heads, kvHeads,
                              headDim, blockSize, scale, window, slopes, sm, sl, sacc);
}

// With ALiBi: the same arguments, slopes[heads] on the device. A kernel of its own because a kernel's register
// count is the largest of all its paths: the ALiBi term would otherwise cost every model registers.
extern "C" __global__ void paged_attention_alibi(const float* qkv, void* out, int outType, const void* kCache,
                                                 const void* vCache, int kvType, const int* positions, const int* tableOff,
                                                 const int* tables, int heads, int kvHeads, int headDim, int blockSize,
                                                 float scale, int window, const float* slopes) {
    pdl_begin();
    ATT_SHARED
    paged_attention_kv<true>(qkv, out, outType, kCache, vCache, kvType, positions, tableOff, tables, heads, kvHeads,
                             headDim, blockSize, scale, window, slopes, sm, sl, sacc);
}

// SwiGLU over the fused gate/up GEMM output gu[t] = [gate (ffn) | up (ffn)] (+ bias [2 ffn], may be null):
// out[t, i] = silu(gate) * up, in outType. Grid-stride over n * ffn. Twin: Kernels.silu(a) * b.
extern "C" __global__ void swiglu(const float* gu, const float* bias, void* out, int outType, int ffn, long long total) {
    pdl_begin();
    for (long long k = blockIdx.x * (long long) blockDim.x + threadIdx.x; k < total; k += (long long) gridDim.x * blockDim.x) {
        long long t = k / ffn;
        int i = (int) (k % ffn);
        float a = gu[t * 2 * ffn + i], b = gu[t * 2 * ffn + ffn + i];
        if (bias) { a += bias[i]; b += bias[ffn + i]; }
        float s = a / (1.f + expf(-a));
        store_from_float(out, outType, k, s * b);
    }
}

// The MLP activation of every family but Llama's SwiGLU (which keeps its own kernel above), act being the ordinal of
// the engine's TransformerSpec.Activation: 0 SiLU, 1 exact GELU (erf), 2 GELU with the tanh approximation, 3 ReLU.
// Computed in double and rounded to float once, as the engine's Kernels.silu/geluErf/geluTanh do.
__device__ __forceinline__ float activation(float x, int act) {
    double d = x;
    switch (act) {
        case 0: return (float) (d / (1.0 + exp(-d)));
        case 1: return (float) (0.5 * d * (1.0 + erf(d / 1.4142135623730951)));
        case 2: return (float) (0.5 * d * (1.0 + tanh(0.7978845608028654 * (d + 0.044715 * (d * d * d)))));
        default: return fmaxf(0.f, x);
    }
}

// MLP input of the down projection, in outType, grid-stride over total = n * ffn:
//   gated: in[t] = [gate (ffn) | up (ffn)], bias [2 ffn]: out[t, i] = act(gate + bg) * (up + bu)
//   plain: in[t] = [ffn], bias [ffn]:                        out[t, i] = act(a + b)   (GPT-2, GPT-J, Falcon, MPT, BLOOM)
// bias may be null. Twin: DecoderModel's ActivationTask (CpuTwins.biasAct).
extern "C" __global__ void bias_act(const float* in, const float* bias, void* out, int outType, int ffn, int act,
                                    int gated, long long total) {
    pdl_begin();
    for (long long k = blockIdx.x * (long long) blockDim.x + threadIdx.x; k < total; k += (long long) gridDim.x * blockDim.x) {
        long long t = k / ffn;
        int i = (int) (k % ffn);
        float v;
        if (gated) {
            float a = in[t * 2 * ffn + i], b = in[t * 2 * ffn + ffn + i];
            if (bias) { a += bias[i]; b += bias[ffn + i]; }
            v = activation(a, act) * b;
        } else {
            float a = in[k];
            if (bias) a += bias[i];
            v = activation(a, act);
        }
        store_from_float(out, outType, k, v);
    }
}

// y[k] += bias[k % cols] over total = rows * cols (the LM head's bias, GPT-J). Twin: CpuTwins.addBias.
extern "C" __global__ void add_bias_rows(float* y, const float* bias, int cols, long long total) {
    pdl_begin();
    for (long long k = blockIdx.x * (long long) blockDim.x + threadIdx.x; k < total; k += (long long) gridDim.x * blockDim.x)
        y[k] += bias[k % cols];
}

// Load-time transpose of an input-major weight (GPT-2's Conv1D stores [in][out], element (r, c) of the [out][in]
// matrix at in[c * rows + r]) into row-major out[rows][cols], converting the element type, so that every GEMM and
// GEMV reads one layout. Grid-stride over out; reads are strided, which does not matter once per weight.
// Twin: CpuTwins.transpose.
extern "C" __global__ void transpose_convert(const void* in, int inType, void* out, int outType, int rows, int cols) {
    long long total = (long long) rows * cols;
    for (long long k = blockIdx.x * (long long) blockDim.x + threadIdx.x; k < total; k += (long long) gridDim.x * blockDim.x) {
        long long r = k / cols, c = k % cols;
        store_from_float(out, outType, k, load_as_float(in, inType, c * rows + r));
    }
}

// Eight 16-bit elements (one 16-byte load) as floats.
__device__ __forceinline__ void unpack8(uint4 v, const __nv_bfloat16*, float* out) {
    bf16x2_to_float(v.x, out); bf16x2_to_float(v.y, out + 2); bf16x2_to_float(v.z, out + 4); bf16x2_to_float(v.w, out + 6);
}
__device__ __forceinline__ void unpack8(uint4 v, const __half*, float* out) {
    unsigned u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        float2 f = __half22float2(*(const __half2*) &u[i]);
        out[2 * i] = f.x; out[2 * i + 1] = f.y;
    }
}

// Small-batch linear layer: out[t][r] = sum_c in[t][c] w[r][c] for t < N (N <= 8), w and in 16-bit (T), f32
// accumulation and output, out row-major [N][rows] like the cuBLASLt path. Decode at small batch reads every
// weight once per step and does almost no arithmetic, so this is a pure streaming read of w: one warp per output
// row, each lane reading 16-byte pieces (8 elements) strided by 512 B, four pieces in flight. The N input rows
// are copied into shared memory first (dynamic shared memory of N * cols elements, at most 48 KB), so that the
// warps of a block read them from there rather than each from L2 (which would double the bytes a step moves at
// N = 1 and multiply them by N + 1 above). cols must be a multiple of 8. Twin: CpuTwins.gemm.
extern __shared__ __align__(16) unsigned char gemv_inputs[];

template <typename T, int N>
__device__ void gemv_rows(const T* __restrict__ w, const T* __restrict__ in, float* __restrict__ out, int rows, int cols) {
    T* xs = (T*) gemv_inputs;
    {
        // The weights don't depend on the kernel before: start pulling this warp's first pieces into L2 while that
        // kernel finishes (only under programmatic launch does this overlap anything).
        int pr = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
        if (pr < rows) {
            const uint4* pw = (const uint4*) (w + (long long) pr * cols);
            for (int c = threadIdx.x & 31, k = 0; c < (cols >> 3) && k < 4; c += 32, k++)
                asm volatile("prefetch.global.L2 [%0];" :: "l"(pw + c));
        }
    }
    pdl_begin();
    for (int i = threadIdx.x; i < N * cols / 8; i += blockDim.x) ((uint4*) xs)[i] = ((const uint4*) in)[i];
    __syncthreads();
    int r = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (r >= rows) return;
    int lane = threadIdx.x & 31;
    int chunks = cols >> 3;
    const uint4* wr = (const uint4*) (w + (long long) r * cols);
    float acc[N];
#pragma unroll
    for (int t = 0; t < N; t++) acc[t] = 0.f;
#pragma unroll 4
    for (int c = lane; c < chunks; c += 32) {
        float wf[8];
        unpack8(__ldcs(wr + c), w, wf); // streamed once: don't keep weights in L1
#pragma unroll
        for (int t = 0; t < N; t++) {
            float xf[8];
            unpack8(((const uint4*) (xs + t * cols))[c], in, xf);
#pragma unroll
            for (int i = 0; i < 8; i++) acc[t] += wf[i] * xf[i];
        }
    }
#pragma unroll
    for (int t = 0; t < N; t++) {
        float v = warp_sum(acc[t]);
        if (lane == 0) out[(long long) t * rows + r] = v;
    }
}

template <typename T>
__device__ void gemv_n(const T* w, const T* in, float* out, int rows, int cols, int n) {
    switch (n) {
        case 2: gemv_rows<T, 2>(w, in, out, rows, cols); break;
        case 3: gemv_rows<T, 3>(w, in, out, rows, cols); break;
        case 4: gemv_rows<T, 4>(w, in, out, rows, cols); break;
        case 5: gemv_rows<T, 5>(w, in, out, rows, cols); break;
        case 6: gemv_rows<T, 6>(w, in, out, rows, cols); break;
        case 7: gemv_rows<T, 7>(w, in, out, rows, cols); break;
        default: gemv_rows<T, 8>(w, in, out, rows, cols); break;
    }
}

// dtype 1 bf16, 2 f16; n in 2..8 (gemv_one: n = 1, its own kernel so that it keeps few registers and many warps);
// grid ceil(rows / warps per block), any multiple of 32 threads per block.
extern "C" __global__ void gemv_small(const void* w, const void* in, float* out, int dtype, int rows, int cols, int n) {
    if (dtype == 1) gemv_n<__nv_bfloat16>((const __nv_bfloat16*) w, (const __nv_bfloat16*) in, out, rows, cols, n);
    else gemv_n<__half>((const __half*) w, (const __half*) in, out, rows, cols, n);
}

extern "C" __global__ void gemv_one(const void* w, const void* in, float* out, int dtype, int rows, int cols) {
    if (dtype == 1) gemv_rows<__nv_bfloat16, 1>((const __nv_bfloat16*) w, (const __nv_bfloat16*) in, out, rows, cols);
    else gemv_rows<__half, 1>((const __half*) w, (const __half*) in, out, rows, cols);
}

// Greedy sampling: ids[r] = argmax of logits row r (the lowest index among equal maxima). One block per row.
// Twin: CpuTwins.argmax.
extern "C" __global__ void argmax_rows(const float* logits, int* ids, int vocab) {
    pdl_begin();
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

// Tensor parallelism's device-local all-reduce (ranks sharing one GPU, or peers over NVLink): a[i] += b[i], where b
// is the other rank's partial sum copied beside a. Float addition commutes, so both ranks get the same bits.
// Twin: CpuTwins.addInPlace.
extern "C" __global__ void add_f32(float* a, const float* b, long long n) {
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        a[i] += b[i];
    }
}

// Tensor parallelism's greedy merge: out[r] = logits[r][ids[r]], the value of each row's local argmax, so that the
// coordinator can compare the ranks' vocabulary slices with 8 bytes per row instead of a row of logits.
// Twin: CpuTwins.pickRows.
extern "C" __global__ void pick_rows(const float* logits, const int* ids, float* out, int vocab, int rows) {
    pdl_begin();
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r < rows) out[r] = logits[(long long) r * vocab + ids[r]];
}

// Kernels kept in files of their own, compiled into this same fatbin (one module, loaded once):
#include "attention_prefill.cuh"   // flash-style causal prefill attention over the paged cache (tensor cores)
#include "sampling.cuh"            // temperature / top-k / top-p sampling with a seed, on the GPU
#include "allreduce.cuh"           // one-shot all-reduce over peer (NVLink) memory for tensor-parallel ranks
