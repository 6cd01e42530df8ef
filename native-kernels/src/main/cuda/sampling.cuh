// sampling: temperature / top-k / top-p / min-p with a per-row uniform number, on the GPU (see kernels.cu for the
// conventions). The rule is the engine's dev.llmplatform.engine.runtime.SamplingRule, and this kernel must pick
// exactly the token SamplingRule.select picks from the same logits and row (GpuVerify's `sampling` section checks
// it): every decision here is a comparison of floats produced by the same IEEE operations as the Java side
// (__fsub_rn, __fmul_rn, __fmaf_rn: no contraction, no library exp), or of 64-bit integer sums, which are exact in
// any order. Read SamplingRule's documentation for the rule; in short, over the ranking "larger logit first, lower
// id on ties":
//   y = (l - max) * scale  (scale = log2(e) / T), weight = floor(2^(y + 40)) as an integer (0 below y = -40),
//   candidates: y >= max(-40, log2(min_p)); top-k: the first k candidates; top-p: the shortest prefix of those whose
//   weight reaches min(Z, ceil(p * Z)); draw: r = min(S - 1, floor(u * S)), the survivor (walking in id order) at
//   which the running weight first exceeds r.
//
// Sort-free: the top-k and top-p boundaries are found by radix selection on the logits' order-preserving 32-bit keys
// (three passes of 11, 11 and 10 bits, histograms of counts or of weights in shared memory), then, only when the
// boundary key is shared by more tokens than the prefix takes, a scan in id order for the tie that ends it. Each row
// is one block of SMP_THREADS threads; every per-row value comes from the `rows` device buffer and nothing waits on
// the host, so the kernel can sit in a captured CUDA graph.
#pragma once

#define SMP_THREADS 1024
#define SMP_WARPS (SMP_THREADS / 32)
#define SMP_WEIGHT_BITS 40

// One row's parameters (32 bytes; GpuSampler writes them, little-endian, in this layout).
struct SampleRow {
    float scale;      // log2(e) / temperature; 0 = greedy (the first-ranked token)
    int topK;         // 0 = all
    float log2MinP;   // -inf = none
    int pad;
    double topP;      // 1 = all
    double u;         // the draw, in [0, 1)
};

struct SmpShared {
    unsigned long long scan[SMP_WARPS + 1];
    unsigned long long wmass[SMP_WARPS];
    unsigned long long above, at, rem;
    unsigned argKey[SMP_WARPS];
    int argId[SMP_WARPS];
    int cnt[SMP_WARPS];
    int digit, found, pick, warpSel;
};

// NaN ranks as -inf and -0 as +0 (the Java side compares floats, where -0 == +0); the key's unsigned order is then
// the float order.
__device__ __forceinline__ unsigned smp_key(float v) {
    if (v != v) v = -INFINITY;
    if (v == 0.f) v = 0.f;
    unsigned b = __float_as_uint(v);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

__device__ __forceinline__ float smp_unkey(unsigned k) {
    return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

// y = (l - max) * scale with exactly the two roundings of SamplingRule.relative.
__device__ __forceinline__ float smp_y(float l, float mx, float scale) {
    return __fmul_rn(__fsub_rn(l, mx), scale);
}

// SamplingRule.weight: floor(2^(y + 40)); 2^f by the same degree-8 Taylor polynomial, the same fma chain and the
// same float constants (hex literals, identical in both sources), then an exact power-of-two scale and truncation.
__device__ __forceinline__ unsigned long long smp_weight(float y) {
    if (!(y >= -(float) SMP_WEIGHT_BITS)) return 0ull;
    float n = floorf(y);
    float f = __fsub_rn(y, n);
    float p = 0x1.62c022p-20f;
    p = __fmaf_rn(p, f, 0x1.ffcbfcp-17f);
    p = __fmaf_rn(p, f, 0x1.430912p-13f);
    p = __fmaf_rn(p, f, 0x1.5d87fep-10f);
    p = __fmaf_rn(p, f, 0x1.3b2ab6p-7f);
    p = __fmaf_rn(p, f, 0x1.c6b08ep-5f);
    p = __fmaf_rn(p, f, 0x1.ebfbep-3f);
    p = __fmaf_rn(p, f, 0x1.62e43p-1f);
    p = __fmaf_rn(p, f, 1.0f);
    float scaled = __fmul_rn(p, __int_as_float((127 + SMP_WEIGHT_BITS + (int) n) << 23));
    return (unsigned long long) scaled; // truncates, as Java's (long) cast does
}

__device__ __forceinline__ unsigned long long smp_warp_sum(unsigned long long v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ unsigned long long smp_warp_incl_scan(unsigned long long x) {
    int lane = threadIdx.x & 31;
    for (int o = 1; o < 32; o <<= 1) {
        unsigned long long y = __shfl_up_sync(0xffffffffu, x, o);
        if (lane >= o) x += y;
    }
    return x;
}

// Exclusive scan of v over the block in thread order; *total gets the block's sum. Every thread must call it.
__device__ unsigned long long smp_block_excl_scan(unsigned long long v, SmpShared& sh, unsigned long long* total) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    unsigned long long x = smp_warp_incl_scan(v);
    if (lane == 31) sh.scan[warp] = x;
    __syncthreads();
    if (warp == 0) {
        unsigned long long w = sh.scan[lane];
        unsigned long long wi = smp_warp_incl_scan(w);
        sh.scan[lane] = wi - w;
        if (lane == 31) sh.scan[SMP_WARPS] = wi;
    }
    __syncthreads();
    unsigned long long r = sh.scan[warp] + x - v;
    *total = sh.scan[SMP_WARPS];
    __syncthreads();
    return r;
}

// Radix selection over the members of the row: finds the key at which a walk down the ranking, accumulating
// amount(l) of each member, first reaches the target (targetOf(total of all members); 0 means no cut is needed, and
// the function returns false). Out: the key, the amount of members with larger keys, the amount of members with
// exactly that key, the target. Three passes over the row; members whose higher key bits differ from the prefix
// found so far are skipped.
template <class Member, class Amount, class TargetOf>
__device__ bool smp_radix_select(const float* row, int V, Member member, Amount amount, TargetOf targetOf,
                                 unsigned long long* hist, SmpShared& sh, unsigned& outKey,
                                 unsigned long long& outAbove, unsigned long long& outAt,
                                 unsigned long long& outTarget) {
    unsigned prefix = 0, mask = 0;
    unsigned long long above = 0, target = 0, at = 0;
    for (int pass = 0; pass < 3; pass++) {
        int shift = pass == 0 ? 21 : pass == 1 ? 10 : 0;
        int nb = pass == 2 ? 1024 : 2048;
        for (int b = threadIdx.x; b < nb; b += blockDim.x) hist[b] = 0ull;
        __syncthreads();
        for (int i = threadIdx.x; i < V; i += blockDim.x) {
            float l = row[i];
            unsigned key = smp_key(l);
            if ((key & mask) != prefix || !member(i, l, key)) continue;
            unsigned long long a = amount(l);
            if (a) atomicAdd(&hist[(key >> shift) & (unsigned) (nb - 1)], a);
        }
        __syncthreads();
        // Thread t owns bins top, top - 1, ... (per of them), top = nb - 1 - t * per: thread order is descending
        // key order, so an exclusive scan of the threads' sums gives each thread the amount above its bins.
        int per = nb / blockDim.x;
        int top = nb - 1 - threadIdx.x * per;
        unsigned long long mine = 0;
        for (int j = 0; j < per; j++) mine += hist[top - j];
        unsigned long long total;
        unsigned long long excl = smp_block_excl_scan(mine, sh, &total);
        if (pass == 0) {
            target = targetOf(total);
            if (target == 0ull) return false; // the same total in every thread: all return together
        }
        unsigned long long need = target - above; // >= 1, and the members left reach it
        if (excl < need && excl + mine >= need) {
            unsigned long long acc = excl;
            for (int j = 0; j < per; j++) {
                unsigned long long h = hist[top - j];
                if (acc + h >= need) {
                    sh.digit = top - j;
                    sh.above = acc;
                    sh.at = h;
                    break;
                }
                acc += h;
            }
        }
        __syncthreads();
        above += sh.above;
        at = sh.at;
        prefix |= (unsigned) sh.digit << shift;
        mask |= (unsigned) (nb - 1) << shift;
        __syncthreads(); // sh and hist are rewritten by the next pass
    }
    outKey = prefix;
    outAbove = above;
    outAt = at;
    outTarget = target;
    return true;
}

// The id of the t-th (1-based) token in id order whose key is kb, whose id is at most limit and that member()
// admits; tiles of the block's width, counted with ballots. Only run when a boundary key is shared by more tokens
// than the prefix takes (exact ties of f32 logits: rare).
template <class Member>
__device__ int smp_tie_scan(const float* row, int V, unsigned kb, int limit, unsigned long long t, Member member,
                            SmpShared& sh) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (threadIdx.x == 0) sh.found = -1;
    __syncthreads();
    unsigned long long base = 0;
    for (int start = 0; start < V && start <= limit; start += blockDim.x) {
        int i = start + threadIdx.x;
        bool flag = false;
        if (i < V && i <= limit) {
            float l = row[i];
            flag = smp_key(l) == kb && member(i, l, kb);
        }
        unsigned ballot = __ballot_sync(0xffffffffu, flag);
        if (lane == 0) sh.cnt[warp] = __popc(ballot);
        __syncthreads();
        unsigned long long before = base, tile = 0;
        for (int w = 0; w < SMP_WARPS; w++) {
            if (w < warp) before += sh.cnt[w];
            tile += sh.cnt[w];
        }
        if (flag && before + __popc(ballot & ((1u << lane) - 1u)) + 1 == t) sh.found = i;
        base += tile;
        __syncthreads();
        if (sh.found >= 0) break; // read by every thread after the barrier: all leave together
    }
    int r = sh.found;
    __syncthreads();
    return r >= 0 ? r : limit;
}

// The draw: walking the row in id order, the token at which the running survivor weight first exceeds
// r = min(S - 1, floor(u * S)). Warp w owns ids [w * seg, (w + 1) * seg) (reads coalesced): each warp sums its
// segment, thread 0 finds the warp whose segment holds r, and that warp walks its segment 32 ids at a time.
template <class Weight>
__device__ int smp_draw(const float* row, int V, double u, Weight weightOf, SmpShared& sh, int fallback) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int seg = ((V + SMP_WARPS - 1) / SMP_WARPS + 31) & ~31;
    int lo = warp * seg, hi = min(V, lo + seg);
    unsigned long long m = 0;
    for (int i = lo + lane; i < hi; i += 32) m += weightOf(i, row[i]);
    m = smp_warp_sum(m);
    if (lane == 0) sh.wmass[warp] = m;
    __syncthreads();
    if (threadIdx.x == 0) {
        unsigned long long s = 0;
        for (int w = 0; w < SMP_WARPS; w++) s += sh.wmass[w];
        sh.warpSel = -1;
        sh.pick = fallback;
        if (s > 0) {
            unsigned long long r = __double2ull_rz(__dmul_rn(u, __ull2double_rn(s)));
            if (r > s - 1) r = s - 1;
            unsigned long long acc = 0;
            for (int w = 0; w < SMP_WARPS; w++) {
                if (acc + sh.wmass[w] > r) {
                    sh.warpSel = w;
                    sh.rem = r - acc;
                    break;
                }
                acc += sh.wmass[w];
            }
        }
    }
    __syncthreads();
    if (warp == sh.warpSel) {
        unsigned long long rem = sh.rem, base = 0;
        for (int s0 = lo; s0 < hi; s0 += 32) {
            int i = s0 + lane;
            unsigned long long x = smp_warp_incl_scan(i < hi ? weightOf(i, row[i]) : 0ull);
            unsigned ballot = __ballot_sync(0xffffffffu, base + x > rem);
            if (ballot) {
                if (lane == __ffs(ballot) - 1) sh.pick = i;
                break;
            }
            base += __shfl_sync(0xffffffffu, x, 31);
        }
    }
    __syncthreads();
    return sh.pick;
}

// One block of SMP_THREADS per row of `vocab` f32 logits: ids[r] = the token SamplingRule picks with rows[r].
// Twin: SamplingRule.select (CpuTwins.sampleRows).
extern "C" __global__ void __launch_bounds__(SMP_THREADS)
sample_rows(const float* logits, const SampleRow* rows, int* ids, int vocab) {
    __shared__ unsigned long long hist[2048];
    __shared__ SmpShared sh;
    const int V = vocab;
    const float* row = logits + (long long) blockIdx.x * V;
    const SampleRow P = rows[blockIdx.x];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

    // The first-ranked token (largest key, lowest id): the greedy answer, and the max that y is relative to.
    unsigned bestKey = 0u; // below every canonical key
    int bestId = 0x7fffffff;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        unsigned k = smp_key(row[i]);
        if (k > bestKey) { bestKey = k; bestId = i; }
    }
    for (int o = 16; o > 0; o >>= 1) {
        unsigned ok = __shfl_xor_sync(0xffffffffu, bestKey, o);
        int oi = __shfl_xor_sync(0xffffffffu, bestId, o);
        if (ok > bestKey || (ok == bestKey && oi < bestId)) { bestKey = ok; bestId = oi; }
    }
    if (lane == 0) { sh.argKey[warp] = bestKey; sh.argId[warp] = bestId; }
    __syncthreads();
    if (warp == 0) {
        bestKey = sh.argKey[lane];
        bestId = sh.argId[lane];
        for (int o = 16; o > 0; o >>= 1) {
            unsigned ok = __shfl_xor_sync(0xffffffffu, bestKey, o);
            int oi = __shfl_xor_sync(0xffffffffu, bestId, o);
            if (ok > bestKey || (ok == bestKey && oi < bestId)) { bestKey = ok; bestId = oi; }
        }
        if (lane == 0) { sh.argKey[0] = bestKey; sh.argId[0] = bestId; }
    }
    __syncthreads();
    bestKey = sh.argKey[0];
    bestId = sh.argId[0];
    __syncthreads();
    if (bestId == 0x7fffffff) bestId = 0; // vocab 0: nothing sensible to pick
    const float mx = smp_unkey(bestKey);
    if (P.scale == 0.f || isinf(mx) || V == 0) {
        if (threadIdx.x == 0) ids[blockIdx.x] = bestId;
        return;
    }
    const float scale = P.scale;
    const float floorY = fmaxf(-(float) SMP_WEIGHT_BITS, P.log2MinP);
    auto cand = [&](int, float l, unsigned) { return smp_y(l, mx, scale) >= floorY; };

    // Top-k: the k-th candidate in the ranking (key, then the tie that ends the prefix).
    bool cutK = false;
    unsigned kK = 0u;
    int idK = 0x7fffffff;
    if (P.topK > 0) {
        const unsigned long long K = (unsigned long long) P.topK;
        unsigned key;
        unsigned long long above, at, target;
        cutK = smp_radix_select(row, V, cand, [](float) { return 1ull; },
                                [K](unsigned long long c) { return c > K ? K : 0ull; }, hist, sh, key, above, at, target);
        if (cutK) {
            kK = key;
            unsigned long long need = K - above;
            idK = need >= at ? 0x7fffffff : smp_tie_scan(row, V, kK, 0x7fffffff, need, cand, sh);
        }
    }
    auto inK = [&](int i, unsigned key) { return !cutK || key > kK || (key == kK && i <= idK); };

    // Top-p over the top-k candidates' weight Z: the shortest prefix reaching min(Z, ceil(p * Z)).
    bool cutP = false;
    unsigned kP = 0u;
    int idP = 0x7fffffff;
    if (P.topP < 1.0) {
        const double topP = P.topP;
        unsigned key;
        unsigned long long above, at, target;
        cutP = smp_radix_select(row, V,
                                [&](int i, float l, unsigned k) { return cand(i, l, k) && inK(i, k); },
                                [&](float l) { return smp_weight(smp_y(l, mx, scale)); },
                                [topP](unsigned long long z) {
                                    unsigned long long t = __double2ull_rz(ceil(__dmul_rn(topP, __ull2double_rn(z))));
                                    return t < z ? t : 0ull; // reaching all of Z takes every candidate: no cut
                                },
                                hist, sh, key, above, at, target);
        if (cutP) {
            kP = key;
            unsigned long long w = smp_weight(smp_y(smp_unkey(kP), mx, scale)); // every tie weighs the same, > 0
            unsigned long long ties = at / w, take = (target - above + w - 1) / w;
            int limit = cutK && kP == kK ? idK : 0x7fffffff;
            idP = take >= ties ? limit : smp_tie_scan(row, V, kP, limit, take, cand, sh);
        }
    }

    int id = smp_draw(row, V, P.u, [&](int i, float l) -> unsigned long long {
        float y = smp_y(l, mx, scale);
        if (!(y >= floorY)) return 0ull;
        unsigned key = smp_key(l);
        if (!inK(i, key)) return 0ull;
        if (cutP && !(key > kP || (key == kP && i <= idP))) return 0ull;
        return smp_weight(y);
    }, sh, bestId);
    if (threadIdx.x == 0) ids[blockIdx.x] = id;
}
