package dev.llmplatform.nativekernels;

import static org.bytedeco.cuda.global.cudart.*;

import dev.llmplatform.engine.arch.Architectures;
import dev.llmplatform.engine.arch.Batch;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.cpu.KvBlockPool;
import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.runtime.SamplingParams;
import dev.llmplatform.engine.runtime.SamplingRow;
import dev.llmplatform.engine.runtime.SamplingRule;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUgraphExec_st;
import org.bytedeco.cuda.cudart.CUgraph_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.FloatPointer;

/**
 * GpuVerify's {@code sampling} section: the {@code sample_rows} kernel ({@link GpuSampler}) against the engine's
 * {@link SamplingRule} on random logits, which must pick the identical id on every row (the rule is built so that
 * both sides compute the same bits; there is no tolerance):
 * <ul>
 *   <li>vocab 32000 and 128256, many rows, temperatures 0.5..1.5, top-k 0/1/40, top-p 0.9/1, min-p 0/0.05, random
 *       u, some greedy rows; half of the rows with coarse logits (multiples of 1/4), so that the top-k and top-p
 *       boundaries often fall inside runs of exactly tied logits (the tie scans run); mismatches are printed with
 *       both ids' logits;</li>
 *   <li>the same launch captured in a CUDA graph and replayed with new rows and new logits in the same buffers;</li>
 *   <li>the time of one launch at 64 rows x 128256 for several settings, beside argmax_rows;</li>
 *   <li>with a model directory: {@link GpuLlamaModel#forwardSampled} on decode steps (graphs) against the same
 *       runner's {@code forward} and SamplingRule on the host, identical ids.</li>
 * </ul>
 */
final class SamplingChecks {
    private static final int[] TOP_K = {0, 1, 40};
    private static final double[] TOP_P = {0.9, 1};
    private static final double[] MIN_P = {0, 0.05};

    private SamplingChecks() {
    }

    static int run(Path modelDir) throws Exception {
        int failures = 0;
        CUstream_st stream = Cuda.newStream();
        GpuVerify.stream = stream; // GpuVerify's copy helpers use it
        try (KernelModule k = new KernelModule(stream)) {
            SplittableRandom rng = new SplittableRandom(2026);
            failures += compare(k, stream, rng, 32000, 512);
            failures += compare(k, stream, rng, 128256, 256);
            failures += graphReplay(k, stream, rng, 128256, 64);
            timing(k, stream, rng, 128256, 64);
        }
        if (modelDir != null) {
            failures += steps(modelDir);
        }
        return failures;
    }

    /** Random rows over the grid of settings, about one in eight greedy. */
    static SamplingRow[] randomRows(SplittableRandom rng, int n) {
        SamplingRow[] rows = new SamplingRow[n];
        for (int r = 0; r < n; r++) {
            if (rng.nextInt(8) == 0) {
                rows[r] = SamplingRow.GREEDY;
                continue;
            }
            SamplingParams p = new SamplingParams(0.5 + rng.nextDouble(), TOP_K[rng.nextInt(3)], TOP_P[rng.nextInt(2)],
                    MIN_P[rng.nextInt(2)], 1, 0, 0, null);
            rows[r] = SamplingRow.of(p, rng.nextDouble());
        }
        return rows;
    }

    /** Logits like an LM head's (gaussian, a few strong tokens); odd rows coarse, so that exact ties are common. */
    static float[] randomLogits(SplittableRandom rng, int rows, int vocab) {
        float[] l = new float[rows * vocab];
        for (int r = 0; r < rows; r++) {
            boolean coarse = (r & 1) == 1;
            double spread = 1.5 + 2 * rng.nextDouble();
            for (int i = 0; i < vocab; i++) {
                double v = rng.nextGaussian() * spread;
                l[r * vocab + i] = coarse ? (float) (Math.floor(v * 4) / 4) : (float) v;
            }
            for (int j = 0; j < 5; j++) {
                l[r * vocab + rng.nextInt(vocab)] = (float) (spread * (3 + rng.nextDouble() * 2));
            }
        }
        return l;
    }

    private static int compare(KernelModule k, CUstream_st stream, SplittableRandom rng, int vocab, int n) {
        float[] logits = randomLogits(rng, n, vocab);
        SamplingRow[] rows = randomRows(rng, n);
        long dLogits = GpuVerify.up(logits);
        int[] gpu = new int[n];
        try (GpuSampler s = new GpuSampler(k, stream)) {
            s.sample(dLogits, vocab, rows, n, gpu);
        }
        Cuda.free(dLogits);
        return report("sample_rows vs SamplingRule, vocab " + vocab + ", " + n + " rows", logits, vocab, rows, gpu);
    }

    private static int report(String what, float[] logits, int vocab, SamplingRow[] rows, int[] gpu) {
        SamplingRule rule = new SamplingRule();
        int same = 0, coarseRows = 0, coarseSame = 0, kTies = 0, pTies = 0;
        List<String> diffs = new ArrayList<>();
        for (int r = 0; r < rows.length; r++) {
            int cpu = rule.select(logits, r * vocab, vocab, rows[r]);
            boolean ok = cpu == gpu[r];
            same += ok ? 1 : 0;
            int ties = boundaryTies(logits, r * vocab, vocab, rows[r]);
            kTies += ties & 1;
            pTies += ties >> 1;
            if ((r & 1) == 1) {
                coarseRows++;
                coarseSame += ok ? 1 : 0;
            }
            if (!ok && diffs.size() < 10) {
                float lg = gpu[r] >= 0 && gpu[r] < vocab ? logits[r * vocab + gpu[r]] : Float.NaN;
                diffs.add("row " + r + " " + rows[r] + ": gpu " + gpu[r] + " (logit " + lg + ") vs cpu " + cpu + " (logit "
                        + logits[r * vocab + cpu] + ")" + (lg == logits[r * vocab + cpu] ? " TIE" : ""));
            }
        }
        boolean ok = same == rows.length;
        System.out.printf("%s %-58s identical %d/%d (coarse rows %d/%d; cut inside a run of tied logits: top-k %d rows,"
                + " top-p %d rows)%n", ok ? "PASS" : "FAIL", what, same, rows.length, coarseSame, coarseRows, kTies, pTies);
        diffs.forEach(d -> System.out.println("  " + d));
        return ok ? 0 : 1;
    }

    /**
     * Whether the row's top-k cut (bit 0) and top-p cut (bit 1) fall inside a run of exactly tied logits, where the
     * kernel's tie scan decides which of them stay (by id): the rule's cuts, recomputed here by sorting values.
     */
    static int boundaryTies(float[] logits, int off, int vocab, SamplingRow row) {
        if (row.greedy()) {
            return 0;
        }
        float max = logits[off + SamplingRule.argmax(logits, off, vocab)];
        if (Float.isInfinite(max) || Float.isNaN(max)) {
            return 0;
        }
        float floorY = Math.max(-SamplingRule.WEIGHT_BITS, row.log2MinP());
        float[] c = new float[vocab];
        int n = 0;
        for (int i = 0; i < vocab; i++) {
            float l = logits[off + i];
            if ((l - max) * row.scale() >= floorY) {
                c[n++] = -l; // ascending sort of -l is descending l
            }
        }
        Arrays.sort(c, 0, n);
        int ties = 0;
        if (row.topK() > 0 && row.topK() < n) {
            ties |= c[row.topK() - 1] == c[row.topK()] ? 1 : 0;
            n = row.topK();
        }
        if (row.topP() < 1) {
            long z = 0;
            for (int j = 0; j < n; j++) {
                z += SamplingRule.weight((-c[j] - max) * row.scale());
            }
            long target = Math.min(z, (long) Math.ceil(row.topP() * (double) z));
            long acc = 0;
            for (int j = 0; j < n && target < z; j++) {
                acc += SamplingRule.weight((-c[j] - max) * row.scale());
                if (acc >= target) {
                    ties |= j + 1 < n && c[j] == c[j + 1] ? 2 : 0;
                    break;
                }
            }
        }
        return ties;
    }

    /**
     * The launch captured in a graph, then replayed twice with new rows and logits copied into the same device
     * buffers: what a decode-step graph that samples would do.
     */
    private static int graphReplay(KernelModule k, CUstream_st stream, SplittableRandom rng, int vocab, int n) {
        long dLogits = Cuda.malloc(4L * n * vocab);
        long dRows = Cuda.malloc((long) GpuSampler.ROW_BYTES * n), hRows = Cuda.mallocHost((long) GpuSampler.ROW_BYTES * n);
        long dIds = Cuda.malloc(4L * n);
        // one eager launch first (lazy module loading settles outside the capture), on zeros: greedy rows
        Cuda.memset(dLogits, 4L * n * vocab, stream);
        Cuda.memset(dRows, (long) GpuSampler.ROW_BYTES * n, stream);
        GpuSampler.enqueue(k, dLogits, dRows, dIds, vocab, n);
        Cuda.sync(stream);
        Cuda.check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
        GpuSampler.enqueue(k, dLogits, dRows, dIds, vocab, n);
        CUgraph_st graph = new CUgraph_st();
        Cuda.check(cudaStreamEndCapture(stream, graph), "cudaStreamEndCapture");
        CUgraphExec_st exec = new CUgraphExec_st();
        Cuda.check(cudaGraphInstantiate(exec, graph, 0L), "cudaGraphInstantiate");
        cudaGraphDestroy(graph);
        int failures = 0;
        for (int replay = 0; replay < 2; replay++) {
            float[] logits = randomLogits(rng, n, vocab);
            SamplingRow[] rows = randomRows(rng, n);
            try (FloatPointer p = new FloatPointer(logits)) {
                Cuda.copyToDevice(dLogits, p.address(), 4L * logits.length, stream);
                GpuSampler.write(rows, n, hRows);
                Cuda.copyToDevice(dRows, hRows, (long) GpuSampler.ROW_BYTES * n, stream);
                Cuda.check(cudaGraphLaunch(exec, stream), "cudaGraphLaunch");
                Cuda.sync(stream);
            }
            failures += report("sample_rows in a CUDA graph, replay " + (replay + 1) + ", vocab " + vocab, logits, vocab,
                    rows, GpuVerify.downInts(dIds, n));
        }
        cudaGraphExecDestroy(exec);
        Cuda.free(dLogits);
        Cuda.free(dRows);
        Cuda.freeHost(hRows);
        Cuda.free(dIds);
        return failures;
    }

    /**
     * Microseconds per launch: the mean over 200 launches after 20 warm-up ones, measured with CUDA events (GPU time,
     * not the host's launch rate).
     */
    private static void timing(KernelModule k, CUstream_st stream, SplittableRandom rng, int vocab, int n) {
        float[] logits = randomLogits(rng, n, vocab);
        for (int r = 1; r < n; r += 2) { // fine values only: ties are not what is timed
            for (int i = 0; i < vocab; i++) {
                logits[r * vocab + i] += (float) (rng.nextDouble() * 0.25);
            }
        }
        long dLogits = GpuVerify.up(logits);
        long dRows = Cuda.malloc((long) GpuSampler.ROW_BYTES * n), hRows = Cuda.mallocHost((long) GpuSampler.ROW_BYTES * n);
        long dIds = Cuda.malloc(4L * n);
        double argmax = time(stream, () -> k.argmax(dLogits, dIds, vocab, n));
        System.out.printf("TIME argmax_rows %d x %d: %.1f us%n", n, vocab, argmax);
        Object[][] settings = {{"greedy (T=0)", 0.0, 0, 1.0, 0.0}, {"T=1", 1.0, 0, 1.0, 0.0}, {"T=1 top-k 40", 1.0, 40, 1.0, 0.0},
            {"T=1 top-p 0.9", 1.0, 0, 0.9, 0.0}, {"T=1 min-p 0.05", 1.0, 0, 1.0, 0.05},
            {"T=0.7 top-k 40 top-p 0.9 min-p 0.05", 0.7, 40, 0.9, 0.05}, {"T=1.5 top-p 0.9", 1.5, 0, 0.9, 0.0}};
        for (Object[] s : settings) {
            SamplingRow[] rows = new SamplingRow[n];
            for (int r = 0; r < n; r++) {
                rows[r] = SamplingRow.of(new SamplingParams((double) s[1], (int) s[2], (double) s[3], (double) s[4], 1, 0, 0, null),
                        rng.nextDouble());
            }
            GpuSampler.write(rows, n, hRows);
            Cuda.copyToDevice(dRows, hRows, (long) GpuSampler.ROW_BYTES * n, stream);
            Cuda.sync(stream);
            double us = time(stream, () -> GpuSampler.enqueue(k, dLogits, dRows, dIds, vocab, n));
            System.out.printf("TIME sample_rows %d x %d, %-38s %.1f us (%.1fx argmax_rows)%n", n, vocab, s[0], us, us / argmax);
        }
        Cuda.free(dLogits);
        Cuda.free(dRows);
        Cuda.freeHost(hRows);
        Cuda.free(dIds);
    }

    private static double time(CUstream_st stream, Runnable launch) {
        for (int i = 0; i < 20; i++) {
            launch.run();
        }
        Cuda.sync(stream);
        CUevent_st start = new CUevent_st(), end = new CUevent_st();
        Cuda.check(cudaEventCreate(start), "cudaEventCreate");
        Cuda.check(cudaEventCreate(end), "cudaEventCreate");
        int reps = 200;
        Cuda.record(start, stream);
        for (int i = 0; i < reps; i++) {
            launch.run();
        }
        Cuda.record(end, stream);
        Cuda.sync(stream);
        float[] ms = new float[1];
        Cuda.check(cudaEventElapsedTime(ms, start, end), "cudaEventElapsedTime");
        Cuda.destroy(start);
        Cuda.destroy(end);
        return ms[0] * 1e3 / reps;
    }

    /**
     * Decode steps of the GPU runner on a model: each step's batch runs twice, once through {@code forward} (logits to
     * the host, picked there by SamplingRule) and once through {@code forwardSampled} (picked on the device). Running
     * a batch again rewrites the same KV positions with the same values and gives the same logits (same batch, same
     * bucket, same kernels), so the ids must be identical; the step then continues with the device's ids. 24
     * sequences (a padded graph bucket), 24 steps, random rows per step.
     */
    private static int steps(Path dir) throws Exception {
        try (WorkerPool pool = new WorkerPool(4); DecoderModel cpu = Architectures.load(dir, pool);
             GpuLlamaModel gpu = new GpuLlamaModel(cpu, GpuLlamaModel.Precision.AS_STORED)) {
            SplittableRandom rng = new SplittableRandom(7);
            int vocab = gpu.vocabSize(), seqs = 24;
            KvBlockPool kv = gpu.newKvPool(16, 400);
            KvCache[] caches = new KvCache[seqs];
            int[] length = new int[seqs], next = new int[seqs], dev = new int[seqs];
            Batch b = new Batch(64);
            float[] logits = new float[seqs * vocab];
            for (int q = 0; q < seqs; q++) {
                caches[q] = gpu.newCache(kv);
                length[q] = 2 + rng.nextInt(40);
                int[] prompt = rng.ints(length[q], 0, vocab).toArray();
                gpu.forward(b.clear().addSequence(prompt, 0, length[q], 0, caches[q], false), logits);
                next[q] = rng.nextInt(vocab);
            }
            SamplingRule rule = new SamplingRule();
            int same = 0, total = 0;
            List<String> diffs = new ArrayList<>();
            for (int step = 0; step < 24; step++) {
                b.clear();
                for (int q = 0; q < seqs; q++) {
                    b.add(next[q], length[q], caches[q], true);
                }
                SamplingRow[] rows = randomRows(rng, seqs);
                gpu.forward(b, logits);
                gpu.forwardSampled(b, rows, dev);
                for (int q = 0; q < seqs; q++) {
                    int host = rule.select(logits, q * vocab, vocab, rows[q]);
                    total++;
                    if (host == dev[q]) {
                        same++;
                    } else if (diffs.size() < 10) {
                        diffs.add("step " + step + " row " + q + " " + rows[q] + ": device " + dev[q] + " vs host " + host);
                    }
                    next[q] = dev[q];
                    length[q]++;
                }
            }
            boolean ok = same == total;
            System.out.printf("%s %-58s identical %d/%d%n", ok ? "PASS" : "FAIL",
                    "GpuLlamaModel.forwardSampled vs forward + SamplingRule", same, total);
            diffs.forEach(d -> System.out.println("  " + d));
            return ok ? 0 : 1;
        }
    }
}
