// One-shot all-reduce over peer memory, for the small messages of tensor-parallel decode steps (one process drives
// every GPU; peer access is enabled between them, so a kernel on one GPU loads and stores another's memory directly,
// over NVLink on the H100 machines). NCCL's ring/tree all-reduce costs 7-14 us per call at 8-16 KB there, mostly
// latency; this kernel costs one flag exchange and one remote read of each peer's slice.
//
// Layout. Every rank owns, in its own device memory:
//   stage   2 halves x `capacity` floats: where it puts its input for the peers to read (the half is the call's
//           parity, so a rank may start writing call k+1 while a peer still reads call k: see below)
//   flags   AR_BLOCKS x AR_MAX_RANKS ints: flags[b][p] = the last call whose block b of rank p has staged its slice
//   counters AR_BLOCKS ints: calls block b of this rank has made (its epoch; the same on every rank, since every
//           rank makes the same calls in the same order)
//   table   2 x ranks pointers: every rank's stage, then every rank's flags (device addresses valid here)
// The grid is always AR_BLOCKS blocks; block b handles the same contiguous slice of the message on every rank:
//   1. copy its slice of `buf` into its own stage half (e & 1)
//   2. thread p: store e into rank p's flags[b][rank] (release, system scope), then wait until this rank's
//      flags[b][p] reaches e (acquire): rank p's slice b is staged
//   3. sum the slice over ranks 0..n-1 in rank order (every rank gets the same bits) into `buf`
// Why no barrier at the end: a rank writes half h again only at call k+2, after passing block b's flag wait of
// call k+1, which needs every peer to have started call k+1, so (same stream, kernels in order) to have finished
// every read of call k. A rank that waits checks `abortFlag` (mapped host memory) and gives up when it is set: a
// failed peer then cannot hang the step (the results are wrong, and the step throws).

#define AR_MAX_RANKS 8
#define AR_BLOCKS 32

__device__ __forceinline__ void ar_store_release(int* p, int v) {
    asm volatile("st.release.sys.global.s32 [%0], %1;" :: "l"(p), "r"(v) : "memory");
}

__device__ __forceinline__ int ar_load_acquire(const int* p) {
    int v;
    asm volatile("ld.acquire.sys.global.s32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}

// buf: this rank's n4 float4 (in place); capacity4: float4 per stage half; see above for the rest.
extern "C" __global__ void allreduce_one_shot(float* buf, long long n4, const unsigned long long* table, int rank,
                                              int ranks, long long capacity4, int* counters, const int* abortFlag) {
    __shared__ int epoch;
    pdl_begin();
    if (threadIdx.x == 0) {
        epoch = counters[blockIdx.x] + 1;
        counters[blockIdx.x] = epoch;
    }
    __syncthreads();
    const int e = epoch;
    const long long half = (long long) (e & 1) * capacity4;
    long long per = (n4 + AR_BLOCKS - 1) / AR_BLOCKS;
    long long lo = blockIdx.x * per, hi = min(n4, lo + per);
    float4* io = (float4*) buf;
    float4* mine = (float4*) table[rank] + half;
    for (long long i = lo + threadIdx.x; i < hi; i += blockDim.x) mine[i] = io[i];
    // The block's stores are ordered before the signalling thread's release by the barrier (release is cumulative),
    // so only that thread fences: a system-scope fence in every thread cost ~40 us a call on the H100 pair.
    __syncthreads();
    if (threadIdx.x < ranks) {
        int p = threadIdx.x;
        int* peerFlags = (int*) table[ranks + p];
        ar_store_release(peerFlags + blockIdx.x * AR_MAX_RANKS + rank, e);
        const int* myFlag = (const int*) table[ranks + rank] + blockIdx.x * AR_MAX_RANKS + p;
        // The abort flag is host memory (a PCIe read): look at it once every 1024 polls only.
        for (unsigned spins = 1; ar_load_acquire(myFlag) < e; spins++) {
            if ((spins & 1023) == 0 && *(volatile const int*) abortFlag) break;
        }
    }
    __syncthreads();
    for (long long i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        // __ldcv: fetch again, never a line cached by an earlier call (the same addresses are read every call)
        float4 s = __ldcv((const float4*) table[0] + half + i);
        for (int p = 1; p < ranks; p++) {
            float4 v = __ldcv((const float4*) table[p] + half + i);
            s.x += v.x; s.y += v.y; s.z += v.z; s.w += v.w;
        }
        io[i] = s;
    }
}

// The one-shot all-reduce of a row-parallel product fused with the residual add and RMSNorm that follow it in a
// Llama block (add_rmsnorm with writeBack): one block per token row, so a decode step's all-reduce and norm are one
// kernel instead of two. Block r owns row r's slot in a stage of its own (table[2 ranks + p], same two halves), and
// flags/counters at index flagBase + r, so the parity argument above holds per row: row r's slot is written again
// only two calls-with-row-r later, after a flag wait that needs every peer to have finished the call between.
// The arithmetic is allreduce_one_shot's (the sum over ranks in rank order) then add_rmsnorm's with the same block
// size (x + sum, + bias; the sum of squares in the same per-thread order), so the bits equal the unfused pair's.
extern "C" __global__ void allreduce_add_rmsnorm(const float* buf, int hidden, const unsigned long long* table, int rank,
                                                 int ranks, long long capacity, int* counters, const int* abortFlag,
                                                 int flagBase, float* x, const float* bias, const float* w, void* out,
                                                 int outType, float eps) {
    __shared__ int epoch;
    pdl_begin();
    const int r = blockIdx.x;
    if (threadIdx.x == 0) {
        epoch = counters[flagBase + r] + 1;
        counters[flagBase + r] = epoch;
    }
    __syncthreads();
    const int e = epoch;
    const long long slot = (long long) (e & 1) * capacity + (long long) r * hidden;
    float* mine = (float*) table[2 * ranks + rank] + slot;
    const float* in = buf + (long long) r * hidden;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) mine[i] = in[i];
    __syncthreads();
    if (threadIdx.x < ranks) {
        int p = threadIdx.x;
        int* peerFlags = (int*) table[ranks + p];
        ar_store_release(peerFlags + (flagBase + r) * AR_MAX_RANKS + rank, e);
        const int* myFlag = (const int*) table[ranks + rank] + (flagBase + r) * AR_MAX_RANKS + p;
        for (unsigned spins = 1; ar_load_acquire(myFlag) < e; spins++) {
            if ((spins & 1023) == 0 && *(volatile const int*) abortFlag) break;
        }
    }
    __syncthreads();
    float* xr = x + (long long) r * hidden;
    float ss = 0.f;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        float s = __ldcv((const float*) table[2 * ranks] + slot + i);
        for (int p = 1; p < ranks; p++) s += __ldcv((const float*) table[2 * ranks + p] + slot + i);
        float v = xr[i];
        v += s;
        if (bias) v += bias[i];
        xr[i] = v;
        ss += v * v;
    }
    ss = block_sum(ss);
    float inv = (float) (1.0 / sqrt((double) (ss / hidden + eps)));
    for (int i = threadIdx.x; i < hidden; i += blockDim.x)
        store_from_float(out, outType, (long long) r * hidden + i, xr[i] * inv * w[i]);
}
