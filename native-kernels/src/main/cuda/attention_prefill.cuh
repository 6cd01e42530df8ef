#pragma once
// attention_prefill: flash-style causal attention for prefill chunks over the paged KV cache, on tensor cores.
// See kernels.cu for the conventions (f32 qkv rows [q heads | k heads | v heads], paged cache f32 or bf16 laid out
// [maxBlocks][blockSize][kvDim], position p of a token's sequence at row p % blockSize of block
// tables[tableOff[t] + p / blockSize]). Same result as paged_attention, within bf16 rounding: q, k, v and the
// softmax weights p enter the tensor cores as bf16, every product is accumulated in f32 and the softmax runs in f32.
//
// The work: "query runs", maximal stretches of consecutive tokens of the batch that belong to one sequence at
// consecutive positions (a prompt chunk; a decode token is a run of one), cut into tiles of at most TT tokens.
// tiles[2 i] is the tile's first token (its index in the batch), tiles[2 i + 1] its token count; the host builds them
// (PrefillAttention.java, longest key range first so the heavy tiles start first) and copies them to the device with
// the step's other metadata. One launch covers the whole batch: a 1-D grid of tiles x (kvHeads * chunks) blocks,
// tile-major (block b: tile b / (kvHeads chunks), head slot b % (kvHeads chunks)), one block of NW warps each.
//
// The dense layout of a block: BM = 16 NW query rows, each row one (token, query head) pair of the tile. For
// grouped-query attention the G = heads / kvHeads query heads that share KV head g are stacked: row r is token
// tiles[2 i] + r / HG and query head g G + c HG + r % HG, HG = min(G, BM) heads per block (head slot = g chunks + c,
// chunks = ceil(G / HG); more than one only when G > BM), so TT = BM / HG tokens per tile, and every key and value
// tile is loaded once for all HG heads. Rows past the tile's tokens (or past the group's heads) are padding: zero q,
// computed, never stored. Warp w owns rows [16 w, 16 w + 16) (one m16 MMA tile); each thread holds two rows,
// 16 w + lane / 4 and that + 8, as the m16n8k16 accumulator layout gives them.
//
// Per block: the tile's q rows are converted to bf16 into shared memory (and, for head dims up to 128, kept as MMA
// A fragments in registers); then over the keys [max(0, pFirst - window + 1), pLast] (window 0: from 0) in tiles of
// BN keys: the BN key and value rows are read from their paged blocks (the row indices, block * blockSize + slot, are
// looked up once per tile into shared memory), S = Q K^T on mma.sync m16n8k16 (bf16 in, f32 accumulate), scaled and
// masked (causal: key <= the row's position; window: key >= position - window + 1), an online softmax in f32
// (running max and sum per row, exp2 with log2(e) folded into the scale), then O += P V with P taken straight from
// the S accumulators (rounded to bf16) as A fragments and V read with ldmatrix.trans. A warp skips a key tile that
// is wholly masked for its rows. At the end O / sum is written in outType at out[t][h * headDim + d], the layout
// paged_attention writes. Key and value rows sit in shared memory padded by 16 bytes, so ldmatrix is free of bank
// conflicts.
//   Loads: a bf16 cache is copied with cp.async (16 bytes a piece, zero-filled past the range) into two buffers, the
// next tile in flight while this one is computed; an f32 cache goes through registers (16-byte loads, converted to
// bf16) while the block waits, the overlap then coming from the other blocks on the SM.
//
// Kernels (one per head dim and warp count, both cache types inside): prefill_attention_hd{64,128}_w{4,8} (BN 64,
// q fragments in registers except hd128_w8) and prefill_attention_hd256_w4 (BN 16, q fragments from shared memory).
// Shared memory: (BM + 2 NB BN) (headDim + 8) bf16 + 3 BN ints, NB = 2 for a bf16 cache, 1 for f32 (hd 128, 4 warps:
// 52,992 B f32, 87,808 B bf16), above the default 48 KB, so the launcher raises
// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES. Registers (nvcc 13.0, sm_90, no spills): hd64_w4 168 (3 blocks per
// SM), hd64_w8 170 (1), hd128_w4 245 (2), hd128_w8 217 (1), hd256_w4 249 (2). ALiBi is not handled (the launcher
// falls back to paged_attention). Twin: CpuTwins.attention's sums on q, k, v rounded to bf16 (PrefillAttentionChecks).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>
#include <limits.h>
#include <math.h>

namespace prefill_attn {

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi); // .x (lo) at the lower address / lower half
    return *reinterpret_cast<uint32_t*>(&v);
}

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
    return (uint32_t) __cvta_generic_to_shared(p);
}

// Four 8x8 b16 matrices; lanes 8 i .. 8 i + 7 give the row addresses of matrix i, register i of lane l holds
// row l / 4, columns 2 (l % 4), +1 of matrix i (.trans: of its transpose).
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_addr(p)) : "memory");
}

__device__ __forceinline__ void ldsm_x4_trans(uint32_t (&r)[4], const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_addr(p)) : "memory");
}

// c += a (16x16, row) * b (16x8, col), bf16 in, f32 accumulate.
__device__ __forceinline__ void mma_bf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two consecutive output elements (d even, so 8- or 4-byte aligned) in outType.
__device__ __forceinline__ void store2(void* out, int outType, long long i, float a, float b) {
    if (outType == 1) *reinterpret_cast<__nv_bfloat162*>((__nv_bfloat16*) out + i) = __floats2bfloat162_rn(a, b);
    else if (outType == 2) *reinterpret_cast<__half2*>((__half*) out + i) = __floats2half2_rn(a, b);
    else *reinterpret_cast<float2*>((float*) out + i) = make_float2(a, b);
}

// 16 bytes of the cache (4 f32 or 8 bf16 elements) as bf16 into shared memory.
__device__ __forceinline__ void put_bf16(__nv_bfloat16* dst, float4 v) {
    *reinterpret_cast<uint2*>(dst) = make_uint2(pack_bf16(v.x, v.y), pack_bf16(v.z, v.w));
}

// The BN key and value rows of one tile, rows[i] = block * blockSize + slot of key i (-1: past the range, zeros),
// into sK / sV ([BN][LD] bf16). Consecutive threads read consecutive 16-byte pieces of a row.
template <typename KV, int HD, int BN, int NT, int LD>
__device__ __forceinline__ void load_kv_tile(const KV* __restrict__ kc, const KV* __restrict__ vc, const int* rows,
                                             long long kvDim, int gOff, __nv_bfloat16* sK, __nv_bfloat16* sV, int tid) {
    constexpr int EPC = 16 / (int) sizeof(KV); // elements per 16-byte piece
    constexpr int CPR = HD / EPC;              // pieces per row
    constexpr int ITER = BN * CPR / NT;
    static_assert(BN * CPR % NT == 0, "tile pieces must divide among the threads");
    // Pieces in flight per thread (keys and values each: 16 registers per piece pair); the rounds are not unrolled
    // (unrolled, the compiler hoists every load of the tile and spills). f32: 1 round at hd 64, 2 at hd 128 (4 warps).
    constexpr int STEP = ITER < 8 ? ITER : 8;
    static_assert(ITER % STEP == 0, "");
#pragma unroll 1
    for (int u = 0; u < ITER; u += STEP) {
        uint4 kr[STEP], vr[STEP];
#pragma unroll
        for (int s = 0; s < STEP; s++) {
            int c = tid + (u + s) * NT;
            int row = c / CPR, col = (c % CPR) * EPC;
            int rr = rows[row];
            if (rr >= 0) {
                long long off = (long long) rr * kvDim + gOff + col;
                kr[s] = __ldg(reinterpret_cast<const uint4*>(kc + off));
                vr[s] = __ldg(reinterpret_cast<const uint4*>(vc + off));
            } else {
                kr[s] = make_uint4(0, 0, 0, 0);
                vr[s] = make_uint4(0, 0, 0, 0);
            }
        }
#pragma unroll
        for (int s = 0; s < STEP; s++) {
            int c = tid + (u + s) * NT;
            int row = c / CPR, col = (c % CPR) * EPC;
            if constexpr (sizeof(KV) == 4) {
                put_bf16(sK + row * LD + col, make_float4(__uint_as_float(kr[s].x), __uint_as_float(kr[s].y),
                                                          __uint_as_float(kr[s].z), __uint_as_float(kr[s].w)));
                put_bf16(sV + row * LD + col, make_float4(__uint_as_float(vr[s].x), __uint_as_float(vr[s].y),
                                                          __uint_as_float(vr[s].z), __uint_as_float(vr[s].w)));
            } else {
                *reinterpret_cast<uint4*>(sK + row * LD + col) = kr[s];
                *reinterpret_cast<uint4*>(sV + row * LD + col) = vr[s];
            }
        }
    }
}

// 16 bytes global -> shared without a register round trip (sm_80+); valid false: zero-fill, nothing read.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" :: "r"(smem_addr(dst)), "l"(src), "r"(valid ? 16 : 0) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Waits until at most N of this thread's committed groups are still in flight.
template <int N> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" :: "n"(N) : "memory"); }

// A bf16 cache's key and value tile (rows as in load_kv_tile) copied into sK / sV asynchronously.
template <int HD, int BN, int NT, int LD>
__device__ __forceinline__ void issue_kv_tile_async(const __nv_bfloat16* kc, const __nv_bfloat16* vc, const int* rows,
                                                    long long kvDim, int gOff, __nv_bfloat16* sK, __nv_bfloat16* sV, int tid) {
    constexpr int CPR = HD / 8;
    constexpr int ITER = BN * CPR / NT;
    static_assert(BN * CPR % NT == 0, "tile pieces must divide among the threads");
#pragma unroll
    for (int u = 0; u < ITER; u++) {
        int c = tid + u * NT;
        int row = c / CPR, col = (c % CPR) * 8;
        int rr = rows[row];
        long long off = rr >= 0 ? (long long) rr * kvDim + gOff + col : 0;
        cp_async16(sK + row * LD + col, kc + off, rr >= 0);
        cp_async16(sV + row * LD + col, vc + off, rr >= 0);
    }
}

template <int HD, int NW, int BN>
struct Cfg {
    static constexpr int BM = 16 * NW;       // query rows per block
    static constexpr int NT = 32 * NW;       // threads
    static constexpr int LD = HD + 8;        // shared row stride (bf16): 16 bytes of padding
    // q rows, NB key and value tiles (NB = 2 for the bf16 cache's double buffer, 1 for f32), 3 BN row indices
    static constexpr int smem(int nb) { return (BM + 2 * nb * BN) * LD * 2 + 3 * BN * 4; }
};

extern __shared__ __align__(16) unsigned char prefill_smem[];

// KV: the cache's element type. float: each key tile is loaded through registers (converted to bf16) while the block
// waits; __nv_bfloat16: cp.async copies the next tile into the other of two buffers while this one is computed.
template <int HD, int NW, int BN, bool QREG, typename KV>
__device__ __forceinline__ void prefill_attention_body(const float* __restrict__ qkv, void* out, int outType,
                                                       const KV* kCache, const KV* vCache,
                                                       const int* __restrict__ positions, const int* __restrict__ tableOff,
                                                       const int* __restrict__ tables, const int* __restrict__ tiles,
                                                       int heads, int kvHeads, int blockSize, float scale, int window) {
    using C = Cfg<HD, NW, BN>;
    constexpr int BM = C::BM, NT = C::NT, LD = C::LD;
    constexpr bool ASYNC = sizeof(KV) == 2;
    static_assert(HD % 16 == 0 && BN % 16 == 0, "");
    __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(prefill_smem);
    __nv_bfloat16* sKV = sQ + BM * LD; // buffer b: keys at sKV + 2 b BN LD, values BN LD after
    int* sRow = reinterpret_cast<int*>(sKV + (ASYNC ? 4 : 2) * BN * LD); // [3][BN]: the row indices of 3 tiles

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int G = heads / kvHeads;
    const int hg = G < BM ? G : BM;
    const int chunks = (G + hg - 1) / hg;
    // Tile-major: the blocks of tile 0 (the longest key range) for every head first, then tile 1's, ...
    const int tile = blockIdx.x / (kvHeads * chunks), yi = blockIdx.x % (kvHeads * chunks);
    const int t0 = tiles[2 * tile], count = tiles[2 * tile + 1];
    const int g = yi / chunks;
    const int hBase = g * G + (yi % chunks) * hg, hEnd = (g + 1) * G;
    const int kvDim = kvHeads * HD;
    const long long width = (long long) (heads + 2 * kvHeads) * HD;
    const int pFirst = positions[t0];
    const int kStart = window > 0 ? max(0, pFirst - window + 1) : 0;
    const int kEnd = pFirst + count;                 // one past the tile's last position
    const int nkt = (kEnd - kStart + BN - 1) / BN;
    const int* table = tables + tableOff[t0];

    auto fillRows = [&](int buf, int k0) {
        for (int i = tid; i < BN; i += NT) {
            int j = k0 + i;
            sRow[buf * BN + i] = j < kEnd ? table[j / blockSize] * blockSize + j % blockSize : -1;
        }
    };
    fillRows(0, kStart);
    if (ASYNC && nkt > 1) fillRows(1, kStart + BN);

    // q rows -> bf16 shared memory (padding rows zero)
    {
        constexpr int QC = HD / 4;
        for (int c = tid; c < BM * QC; c += NT) {
            int r = c / QC, col = (c % QC) * 4;
            int to = r / hg, h = hBase + r % hg;
            float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
            if (to < count && h < hEnd) v = __ldg(reinterpret_cast<const float4*>(qkv + (t0 + to) * width + (long long) h * HD + col));
            put_bf16(sQ + r * LD + col, v);
        }
    }

    // This thread's two rows (i = 0: 16 warp + lane / 4, i = 1: that + 8): query position and window start.
    const int gq = lane >> 2, t4 = lane & 3;
    int pq[2], ws[2];
#pragma unroll
    for (int i = 0; i < 2; i++) {
        int r = warp * 16 + gq + 8 * i;
        int to = min(r / hg, count - 1);
        pq[i] = pFirst + to;
        ws[i] = window > 0 ? pq[i] - window + 1 : INT_MIN;
    }
    const int wTokMin = (warp * 16) / hg;                // the warp's first token (may be >= count: no rows)
    const int wTokMax = min((warp * 16 + 15) / hg, count - 1);
    const bool warpRows = wTokMin < count;
    const int wPMin = pFirst + min(wTokMin, count - 1), wPMax = pFirst + wTokMax;
    const float scaleLog2 = scale * 1.4426950408889634f;

    float o[HD / 8][4];
#pragma unroll
    for (int d = 0; d < HD / 8; d++) o[d][0] = o[d][1] = o[d][2] = o[d][3] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};

    __syncthreads(); // sQ and sRow[0] written

    // A fragments of q: matrices (rows 0-7, k 0-7), (rows 8-15, k 0-7), (rows 0-7, k 8-15), (rows 8-15, k 8-15).
    const __nv_bfloat16* qBase = sQ + (warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * LD + (lane >> 4) * 8;
    uint32_t qf[QREG ? HD / 16 : 1][4];
    if constexpr (QREG) {
#pragma unroll
        for (int kc = 0; kc < HD / 16; kc++) ldsm_x4(qf[kc], qBase + kc * 16);
    }

    const long long kvDimL = kvDim;
    // One key tile [k0, k0 + BN) from sK / sV into this warp's rows: S, mask, online softmax, O += P V.
    auto computeTile = [&](const __nv_bfloat16* sK, const __nv_bfloat16* sV, int k0) {
        // Whether any key of the tile is visible to some row of this warp.
        const bool active = warpRows && k0 <= wPMax && (window <= 0 || k0 + BN - 1 >= wPMin - window + 1);
        if (active) {
            float s[BN / 8][4];
#pragma unroll
            for (int n = 0; n < BN / 8; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
            // S = Q K^T. B fragments from K rows: matrices (keys 0-7, d 0-7), (keys 0-7, d 8-15), (keys 8-15, d 0-7),
            // (keys 8-15, d 8-15): registers {0, 1} for key n-tile 2 np, {2, 3} for 2 np + 1.
            const __nv_bfloat16* kBase = sK + ((lane & 7) + (lane >> 4) * 8) * LD + ((lane >> 3) & 1) * 8;
#pragma unroll
            for (int kc = 0; kc < HD / 16; kc++) {
                uint32_t a[4];
                if constexpr (QREG) {
                    a[0] = qf[kc][0]; a[1] = qf[kc][1]; a[2] = qf[kc][2]; a[3] = qf[kc][3];
                } else {
                    ldsm_x4(a, qBase + kc * 16);
                }
#pragma unroll
                for (int np = 0; np < BN / 16; np++) {
                    uint32_t b[4];
                    ldsm_x4(b, kBase + np * 16 * LD + kc * 16);
                    mma_bf16(s[2 * np], a, b[0], b[1]);
                    mma_bf16(s[2 * np + 1], a, b[2], b[3]);
                }
            }
            // Scale to log2 units and mask. Element (n, c) is row i = c / 2, key k0 + 8 n + 2 t4 + c % 2.
            const bool full = k0 + BN - 1 <= wPMin && (window <= 0 || k0 >= wPMax - window + 1);
#pragma unroll
            for (int n = 0; n < BN / 8; n++) {
#pragma unroll
                for (int c = 0; c < 4; c++) {
                    int i = c >> 1;
                    int j = k0 + 8 * n + 2 * t4 + (c & 1);
                    float v = s[n][c] * scaleLog2;
                    s[n][c] = full || (j <= pq[i] && j >= ws[i]) ? v : -INFINITY;
                }
            }
            // Online softmax per row (the four threads of a quad hold one row's columns).
#pragma unroll
            for (int i = 0; i < 2; i++) {
                float mx = -INFINITY;
#pragma unroll
                for (int n = 0; n < BN / 8; n++) mx = fmaxf(mx, fmaxf(s[n][2 * i], s[n][2 * i + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                float mNew = fmaxf(m[i], mx);
                float mUse = mNew == -INFINITY ? 0.f : mNew; // a row with nothing visible yet: every p is 0
                float corr = exp2f(m[i] - mUse);
                m[i] = mNew;
                float sum = 0.f;
#pragma unroll
                for (int n = 0; n < BN / 8; n++) {
                    float p0 = exp2f(s[n][2 * i] - mUse), p1 = exp2f(s[n][2 * i + 1] - mUse);
                    s[n][2 * i] = p0;
                    s[n][2 * i + 1] = p1;
                    sum += p0 + p1;
                }
                l[i] = l[i] * corr + sum; // this thread's columns only; the quad's parts are summed at the end
#pragma unroll
                for (int d = 0; d < HD / 8; d++) {
                    o[d][2 * i] *= corr;
                    o[d][2 * i + 1] *= corr;
                }
            }
            // O += P V. A fragments of P from the accumulators of key n-tiles 2 kc, 2 kc + 1; B fragments of V by
            // ldmatrix.trans: matrices (keys 0-7, d 0-7), (keys 8-15, d 0-7), (keys 0-7, d 8-15), (keys 8-15, d 8-15).
            const __nv_bfloat16* vBase = sV + ((lane & 7) + ((lane >> 3) & 1) * 8) * LD + (lane >> 4) * 8;
#pragma unroll
            for (int kc = 0; kc < BN / 16; kc++) {
                uint32_t a[4];
                a[0] = pack_bf16(s[2 * kc][0], s[2 * kc][1]);
                a[1] = pack_bf16(s[2 * kc][2], s[2 * kc][3]);
                a[2] = pack_bf16(s[2 * kc + 1][0], s[2 * kc + 1][1]);
                a[3] = pack_bf16(s[2 * kc + 1][2], s[2 * kc + 1][3]);
#pragma unroll
                for (int dp = 0; dp < HD / 16; dp++) {
                    uint32_t b[4];
                    ldsm_x4_trans(b, vBase + kc * 16 * LD + dp * 16);
                    mma_bf16(o[2 * dp], a, b[0], b[1]);
                    mma_bf16(o[2 * dp + 1], a, b[2], b[3]);
                }
            }
        }
    };

    if constexpr (ASYNC) {
        // Tile it + 1 is copied (cp.async) into buffer (it + 1) & 1 while tile it is computed from buffer it & 1; row
        // indices of tile k in sRow[k % 3] (written two iterations ahead, so no thread still reads the buffer).
        issue_kv_tile_async<HD, BN, NT, LD>(kCache, vCache, sRow, kvDimL, g * HD, sKV, sKV + BN * LD, tid);
        cp_async_commit();
        for (int it = 0; it < nkt; it++) {
            const int k0 = kStart + it * BN;
            if (it + 1 < nkt) {
                __nv_bfloat16* nb = sKV + ((it + 1) & 1) * 2 * BN * LD;
                issue_kv_tile_async<HD, BN, NT, LD>(kCache, vCache, sRow + ((it + 1) % 3) * BN, kvDimL, g * HD, nb, nb + BN * LD, tid);
            }
            cp_async_commit(); // possibly empty: keeps one group per iteration
            if (it + 2 < nkt) fillRows((it + 2) % 3, k0 + 2 * BN);
            cp_async_wait<1>(); // this thread's copies of tile it have landed
            __syncthreads();    // everyone's (and the row indices written above)
            const __nv_bfloat16* cb = sKV + (it & 1) * 2 * BN * LD;
            computeTile(cb, cb + BN * LD, k0);
            __syncthreads();    // every warp done with buffer it & 1 before tile it + 2 is copied into it
        }
    } else {
        __nv_bfloat16* sK = sKV;
        __nv_bfloat16* sV = sKV + BN * LD;
        for (int it = 0; it < nkt; it++) {
            const int k0 = kStart + it * BN;
            load_kv_tile<KV, HD, BN, NT, LD>(kCache, vCache, sRow + (it & 1) * BN, kvDimL, g * HD, sK, sV, tid);
            if (it + 1 < nkt) fillRows((it + 1) & 1, k0 + BN);
            __syncthreads(); // sK, sV (and the next rows) written
            computeTile(sK, sV, k0);
            __syncthreads(); // every warp done with sK, sV before the next tile overwrites them
        }
    }

    // O / sum, rows of real tokens and heads only.
#pragma unroll
    for (int i = 0; i < 2; i++) {
        float li = l[i];
        li += __shfl_xor_sync(0xffffffffu, li, 1);
        li += __shfl_xor_sync(0xffffffffu, li, 2);
        float inv = li > 0.f ? 1.f / li : 0.f;
        int r = warp * 16 + gq + 8 * i;
        int to = r / hg, h = hBase + r % hg;
        if (to < count && h < hEnd) {
            long long base = (long long) (t0 + to) * heads * HD + (long long) h * HD + 2 * t4;
#pragma unroll
            for (int d = 0; d < HD / 8; d++) store2(out, outType, base + 8 * d, o[d][2 * i] * inv, o[d][2 * i + 1] * inv);
        }
    }
}

} // namespace prefill_attn

#define PREFILL_ATTENTION_KERNEL(NAME, HD, NW, BN, QREG, MINB)                                                        \
    extern "C" __global__ void __launch_bounds__(32 * NW, MINB)                                                       \
    NAME(const float* qkv, void* out, int outType, const void* kCache, const void* vCache, int kvType,                \
         const int* positions, const int* tableOff, const int* tables, const int* tiles, int heads, int kvHeads,      \
         int blockSize, float scale, int window) {                                                                    \
        if (kvType == 1)                                                                                              \
            prefill_attn::prefill_attention_body<HD, NW, BN, QREG, __nv_bfloat16>(                                   \
                qkv, out, outType, (const __nv_bfloat16*) kCache, (const __nv_bfloat16*) vCache, positions, tableOff,  \
                tables, tiles, heads, kvHeads, blockSize, scale, window);                                             \
        else                                                                                                          \
            prefill_attn::prefill_attention_body<HD, NW, BN, QREG, float>(                                            \
                qkv, out, outType, (const float*) kCache, (const float*) vCache, positions, tableOff, tables, tiles,   \
                heads, kvHeads, blockSize, scale, window);                                                            \
    }

// Arguments: qkv rows (f32), out (outType: 0 f32, 1 bf16, 2 f16), the layer's key and value caches (kvType 0 f32,
// 1 bf16), the per-token positions and tableOff, the block tables, the tiles (pairs first token, count), sizes,
// scale, window (0: none). Grid tiles * kvHeads * ceil(G / min(G, 16 NW)) (1-D), 32 NW threads, Cfg::smem(kvType ==
// 1 ? 2 : 1) bytes of dynamic shared memory (PrefillAttention.sharedBytes).
PREFILL_ATTENTION_KERNEL(prefill_attention_hd64_w4, 64, 4, 64, true, 3)
PREFILL_ATTENTION_KERNEL(prefill_attention_hd64_w8, 64, 8, 64, true, 1)
PREFILL_ATTENTION_KERNEL(prefill_attention_hd128_w4, 128, 4, 64, true, 2)
PREFILL_ATTENTION_KERNEL(prefill_attention_hd128_w8, 128, 8, 64, false, 1)
PREFILL_ATTENTION_KERNEL(prefill_attention_hd256_w4, 256, 4, 16, false, 2)
