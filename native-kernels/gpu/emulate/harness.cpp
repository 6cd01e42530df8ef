// The sampling kernel (sampling.cuh) run on the host through cuda_emu.h: reads rows and logits written by
// EmulateSampling.java, writes the ids the kernel picks.
#include "cuda_emu.h"
#include <cstdio>
#include <random>
#include "../../src/main/cuda/sampling.cuh"
// in: rows V, then per row: scale topK log2MinP topP u (as raw bits), then logits (raw bits); out: ids
int main(int argc, char** argv) {
    FILE* in = fopen(argv[1], "rb");
    int n, V;
    fread(&n, 4, 1, in); fread(&V, 4, 1, in);
    std::vector<SampleRow> rows(n);
    fread(rows.data(), sizeof(SampleRow), n, in);
    std::vector<float> logits((size_t) n * V);
    fread(logits.data(), 4, logits.size(), in);
    fclose(in);
    std::vector<int> ids(n, -1);
    const float* L = logits.data(); const SampleRow* R = rows.data(); int* I = ids.data();
    launch(n, 1024, [=] { sample_rows(L, R, I, V); });
    FILE* out = fopen(argv[2], "wb");
    fwrite(ids.data(), 4, n, out);
    fclose(out);
}
