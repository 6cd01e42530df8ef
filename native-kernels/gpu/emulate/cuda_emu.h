// Host emulation of the few CUDA features sampling.cuh uses, to run its source without a GPU: one block at a time,
// one std::thread per CUDA thread, __syncthreads as a block barrier, each warp collective (shuffles, ballot) as an
// exchange through per-warp slots between two per-warp barriers (stricter than the hardware: every lane of the warp
// must reach it, as the kernel's code guarantees), __shared__ as function statics (one block at a time), shared
// atomics as std::atomic_ref, the _rn intrinsics as plain IEEE float/double operations (compile with
// -ffp-contract=off so that nothing is fused behind their back). Slow (about a second a row): a logic check only.
#pragma once
#include <atomic>
#include <barrier>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>
#include <algorithm>
#define __global__
#define __device__
#define __forceinline__
#define __shared__ static
#define __launch_bounds__(x)
struct dim3e { unsigned x = 0, y = 0, z = 0; };
inline thread_local dim3e threadIdx, blockIdx;
inline dim3e blockDim, gridDim;
inline std::barrier<>* blockBarrier;
inline std::barrier<>* warpBarrier[32];
inline unsigned long long slots[32][32];
inline void __syncthreads() { blockBarrier->arrive_and_wait(); }
template <class T> inline unsigned long long toBits(T v) { unsigned long long b = 0; std::memcpy(&b, &v, sizeof(T)); return b; }
template <class T> inline T fromBits(unsigned long long b) { T v; std::memcpy(&v, &b, sizeof(T)); return v; }
template <class T> inline T exch(T v, int src) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    slots[warp][lane] = toBits(v);
    warpBarrier[warp]->arrive_and_wait();
    T r = fromBits<T>(slots[warp][src]);
    warpBarrier[warp]->arrive_and_wait();
    return r;
}
template <class T> inline T __shfl_xor_sync(unsigned, T v, int o) { return exch(v, (threadIdx.x & 31) ^ o); }
template <class T> inline T __shfl_sync(unsigned, T v, int src) { return exch(v, src); }
template <class T> inline T __shfl_up_sync(unsigned, T v, int d) { int lane = threadIdx.x & 31; return exch(v, lane >= d ? lane - d : lane); }
inline unsigned __ballot_sync(unsigned, bool p) {
    int warp = threadIdx.x >> 5;
    slots[warp][threadIdx.x & 31] = p ? 1 : 0;
    warpBarrier[warp]->arrive_and_wait();
    unsigned b = 0;
    for (int i = 0; i < 32; i++) b |= (unsigned) slots[warp][i] << i;
    warpBarrier[warp]->arrive_and_wait();
    return b;
}
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { return std::atomic_ref<unsigned long long>(*p).fetch_add(v); }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fmaf(a, b, c); }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ull2double_rn(unsigned long long v) { return (double) v; }
inline unsigned long long __double2ull_rz(double v) { return (unsigned long long) v; }
inline unsigned __float_as_uint(float f) { return std::bit_cast<unsigned>(f); }
inline float __uint_as_float(unsigned u) { return std::bit_cast<float>(u); }
inline float __int_as_float(int u) { return std::bit_cast<float>(u); }
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __ffs(unsigned v) { return __builtin_ffs(v); }
using std::min; using std::isinf;

template <class F> void launch(int grid, int block, F kernel) {
    blockDim.x = block; gridDim.x = grid;
    for (int b = 0; b < grid; b++) {
        std::barrier<> bb(block);
        blockBarrier = &bb;
        for (int w = 0; w < block / 32; w++) warpBarrier[w] = new std::barrier<>(32);
        std::vector<std::thread> ts;
        for (int t = 0; t < block; t++) ts.emplace_back([=] { threadIdx.x = t; blockIdx.x = b; kernel(); });
        for (auto& t : ts) t.join();
        for (int w = 0; w < block / 32; w++) delete warpBarrier[w];
    }
}
