package dev.llmplatform.nativekernels;

import dev.llmplatform.engine.arch.Architectures;
import dev.llmplatform.engine.arch.Batch;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.cpu.KvBlockPool;
import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.cpu.WorkerPool;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * CUDA-graph decode steps against kernel-by-kernel ones on one model (kjv-demo): the same sequences in two KV pools,
 * the same tokens fed to both, batch sizes that cross bucket boundaries (so rows are padded) and repeat (so each
 * bucket runs eagerly, is captured, then replayed with new data), with an f32, a bf16 and an FP8 KV cache. Logits must
 * agree to GEMM-algorithm rounding (cuBLASLt may pick another kernel for the padded size) and the greedy picks must
 * agree; graphs must really have been captured.
 */
final class GraphChecks {
    private GraphChecks() {
    }

    static int run(Path dir) throws Exception {
        int failures = 0;
        try (WorkerPool pool = new WorkerPool(4); DecoderModel cpu = Architectures.load(dir, pool);
             GpuLlamaModel gpu = new GpuLlamaModel(cpu, GpuLlamaModel.Precision.AS_STORED)) {
            // Pass 1 plain launches; pass 2 (sm_90+) programmatic dependent launches, whose kernel-by-kernel logits
            // must equal pass 1's bit for bit (same kernels, same inputs: only the launch overlap differs).
            List<float[]> plain = new ArrayList<>();
            boolean pdlPossible = Cuda.computeCapability() >= 90;
            for (boolean pdl : pdlPossible ? new boolean[] {false, true} : new boolean[] {false}) {
                gpu.setProgrammaticLaunch(pdl);
                failures += pass(gpu, pdl, plain);
            }
            gpu.setProgrammaticLaunch(false);
        }
        return failures;
    }

    private static int pass(GpuLlamaModel gpu, boolean pdl, List<float[]> plain) {
        int failures = 0;
        Random rng = new Random(5);
        int recorded = 0;
        double pdlWorst = 0;
        {
            int vocab = gpu.vocabSize();
            for (int kvType : new int[] {KernelModule.F32, KernelModule.BF16, KernelModule.FP8_E4M3}) {
                gpu.setKvCacheType(kvType);
                KvBlockPool graphPool = gpu.newKvPool(16, 1200), eagerPool = gpu.newKvPool(16, 1200);
                int seqs = 37;
                KvCache[] g = new KvCache[seqs], e = new KvCache[seqs];
                int[] length = new int[seqs], next = new int[seqs];
                Batch bg = new Batch(64), be = new Batch(64);
                float[] lg = new float[seqs * vocab], le = new float[seqs * vocab];
                for (int s = 0; s < seqs; s++) {
                    g[s] = gpu.newCache(graphPool);
                    e[s] = gpu.newCache(eagerPool);
                    length[s] = 1 + rng.nextInt(60);
                    int[] prompt = rng.ints(length[s], 0, vocab).toArray();
                    bg.clear().addSequence(prompt, 0, length[s], 0, g[s], false);
                    be.clear().addSequence(prompt, 0, length[s], 0, e[s], false);
                    gpu.forward(bg, lg);
                    gpu.forward(be, le);
                    pdlWorst = Math.max(pdlWorst, compareOrRecord(pdl, plain, recorded++, java.util.Arrays.copyOf(le, vocab)));
                    next[s] = CpuTwins.argmax(java.util.Arrays.copyOf(le, vocab), vocab)[0];
                }
                int capturesBefore = gpu.graphCaptures();
                double worst = 0;
                int picks = 0, agree = 0;
                for (int active : new int[] {37, 37, 37, 31, 31, 31, 22, 22, 22, 9, 9, 9, 1, 1, 1}) {
                    bg.clear();
                    be.clear();
                    for (int s = 0; s < active; s++) {
                        bg.add(next[s], length[s], g[s], true);
                        be.add(next[s], length[s], e[s], true);
                    }
                    gpu.setCudaGraphs(true).forward(bg, lg);
                    gpu.setCudaGraphs(false).forward(be, le);
                    gpu.setCudaGraphs(true);
                    float[] a = java.util.Arrays.copyOf(lg, active * vocab), b = java.util.Arrays.copyOf(le, active * vocab);
                    pdlWorst = Math.max(pdlWorst, compareOrRecord(pdl, plain, recorded++, b));
                    worst = Math.max(worst, relDiff(a, b));
                    int[] ia = CpuTwins.argmax(a, vocab), ib = CpuTwins.argmax(b, vocab);
                    for (int s = 0; s < active; s++) {
                        picks++;
                        agree += ia[s] == ib[s] ? 1 : 0;
                        next[s] = ib[s];
                        length[s]++;
                    }
                }
                int captured = gpu.graphCaptures() - capturesBefore;
                String kv = kvType == KernelModule.BF16 ? "bf16 KV" : kvType == KernelModule.FP8_E4M3 ? "fp8 KV" : "f32 KV";
                boolean ok = worst <= 2e-3 && agree == picks && captured >= 5;
                failures += ok ? 0 : 1;
                System.out.printf("%s graphs vs kernel-by-kernel, %s%s, batches 37/31/22/9/1 (padded to 48/32/24/16/1): max rel logit diff %.2e (tol 2e-3), greedy picks %d/%d equal, %d graphs captured%n",
                        ok ? "PASS" : "FAIL", kv, pdl ? ", programmatic dependent launch" : "", worst, agree, picks, captured);
                gpu.releaseKvPool(graphPool);
                gpu.releaseKvPool(eagerPool);
            }
            gpu.setKvCacheType(KernelModule.F32);
        }
        if (pdl) {
            boolean ok = pdlWorst == 0;
            failures += ok ? 0 : 1;
            System.out.printf("%s programmatic dependent launch vs plain launches, kernel by kernel: %d logit sets, max rel diff %.2e (must be 0)%n",
                    ok ? "PASS" : "FAIL", recorded, pdlWorst);
        }
        return failures;
    }

    /** Pass 1 records the logits; pass 2 returns their relative difference from pass 1's. */
    private static double compareOrRecord(boolean pdl, List<float[]> plain, int i, float[] logits) {
        if (!pdl) {
            plain.add(logits);
            return 0;
        }
        return relDiff(logits, plain.get(i));
    }

    /** max |a - b| over max |b|. */
    static double relDiff(float[] a, float[] b) {
        double maxAbs = 0, maxRef = 0;
        for (int i = 0; i < b.length; i++) {
            if (Float.isNaN(a[i])) {
                return Double.POSITIVE_INFINITY;
            }
            maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
            maxRef = Math.max(maxRef, Math.abs(b[i]));
        }
        return maxAbs / Math.max(maxRef, 1e-30);
    }
}
