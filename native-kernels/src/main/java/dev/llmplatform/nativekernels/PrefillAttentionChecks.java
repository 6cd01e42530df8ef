package dev.llmplatform.nativekernels;

import dev.llmplatform.engine.arch.Architectures;
import dev.llmplatform.engine.arch.Batch;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.cpu.KvBlockPool;
import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.DType;
import dev.llmplatform.engine.model.ModelShape;
import dev.llmplatform.engine.model.RandomCheckpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * gpu/verify.sh's {@code prefill} section: the flash-style prefill attention kernels (attention_prefill.cuh) against
 * paged_attention and against a CPU twin (CpuTwins.attention's sums, in double, on q, k and v rounded to bf16) on
 * random inputs: one batch of several sequences (query runs of 1, 7, 64, 200 and 1000 tokens, some after context
 * already in the cache, and a decode token), GQA 32/8, MQA 32/1, a group of 7 (28/4), a group larger than a block
 * (136/1), Llama-2's 32/32, head dims 64, 128 and 256, f32 and bf16 caches, f32/bf16/f16 outputs, sliding windows,
 * each warp count; then the runner end to end (random-weight bf16 checkpoints, head dims 128 and 64: batched prefill
 * and a chunk after context, flash vs paged_attention and vs the CPU engine); then the timing of the kernel vs
 * paged_attention on one 2048-token prompt at the Llama-2-7B and Llama-3.2-1B attention shapes (TFLOP/s counted as
 * 4 n^2 / 2 headDim heads). Prints PASS/FAIL lines and exits 1 if any failed.
 */
public final class PrefillAttentionChecks {
    private static final Random RNG = new Random(1234);

    public static void main(String[] args) throws Exception {
        if (!Cuda.available()) {
            System.out.println("FAIL no GPU: " + Cuda.unavailableReason());
            System.exit(1);
        }
        Cuda.init(0);
        System.out.println("device: " + Cuda.deviceName(0));
        GpuVerify.stream = Cuda.newStream();
        GpuVerify.k = new KernelModule(GpuVerify.stream);
        String what = args.length > 0 ? args[0] : "all";
        if (what.equals("all") || what.equals("kernels")) {
            kernelChecks();
        }
        if (what.equals("all") || what.equals("model")) {
            modelCheck(new ModelShape("flash-llama", "llama", 1024, 2, 8, 2, 1536, 3000, 4096, 10000, true, false, null));
            modelCheck(new ModelShape("flash-qwen2", "qwen2", 896, 2, 14, 2, 1536, 3000, 4096, 1000000, true, true, null));
        }
        if (what.equals("all") || what.equals("bench")) {
            bench("Llama-2-7B", 32, 32, 128);
            bench("Llama-3.2-1B", 32, 8, 64);
        }
        int failures = GpuVerify.failures;
        System.out.println(failures == 0 ? "ALL PASS (prefill)" : failures + " FAILED (prefill)");
        System.exit(failures == 0 ? 0 : 1);
    }

    /** A sequence of the batch: {@code context} positions already cached, then a run of {@code length} tokens. */
    record Seq(int context, int length) {
    }

    static final Seq[] MIXED = {new Seq(0, 1), new Seq(0, 7), new Seq(40, 64), new Seq(517, 1), new Seq(0, 200), new Seq(300, 1000)};
    static final Seq[] SMALL = {new Seq(0, 7), new Seq(20, 64), new Seq(3, 1), new Seq(0, 33)};

    static void kernelChecks() {
        int F32 = KernelModule.F32, BF16 = KernelModule.BF16, F16 = KernelModule.F16;
        // heads, kvHeads, headDim, kvType, outType, window, batch
        caseOf(32, 8, 128, F32, BF16, 0, MIXED);
        caseOf(32, 8, 128, BF16, F32, 0, MIXED);
        caseOf(32, 8, 128, F32, F32, 100, MIXED);
        caseOf(32, 1, 64, F32, F32, 0, MIXED);
        caseOf(32, 1, 64, BF16, BF16, 100, MIXED);
        caseOf(32, 8, 64, BF16, F32, 0, MIXED);
        caseOf(28, 4, 128, BF16, F16, 0, MIXED);
        caseOf(32, 32, 128, F32, F32, 0, MIXED);
        caseOf(136, 1, 64, F32, F32, 0, SMALL);
        caseOf(8, 4, 256, F32, F32, 0, MIXED);
        caseOf(8, 4, 256, BF16, BF16, 300, MIXED);
        caseOf(8, 2, 64, F32, F32, 1, SMALL); // window 1: each token sees only itself
    }

    /** One batch through paged_attention and the flash kernel (each warp count), against the twin. */
    static void caseOf(int heads, int kvHeads, int hd, int kvType, int outType, int window, Seq[] seqs) {
        KernelModule k = GpuVerify.k;
        int kvDim = kvHeads * hd, qDim = heads * hd, width = qDim + 2 * kvDim, bs = 16;
        // Block tables: every sequence's blocks drawn from a shuffled arena, so tables are not contiguous.
        int blocksNeeded = 0;
        for (Seq s : seqs) {
            blocksNeeded += (s.context + s.length + bs - 1) / bs;
        }
        int arenaBlocks = blocksNeeded + 7;
        List<Integer> free = new ArrayList<>();
        for (int b = 0; b < arenaBlocks; b++) {
            free.add(b);
        }
        Collections.shuffle(free, RNG);
        int[][] table = new int[seqs.length][];
        List<Integer> tables = new ArrayList<>();
        int[] tableAt = new int[seqs.length];
        int next = 0;
        for (int s = 0; s < seqs.length; s++) {
            table[s] = new int[(seqs[s].context + seqs[s].length + bs - 1) / bs];
            tableAt[s] = tables.size();
            for (int b = 0; b < table[s].length; b++) {
                table[s][b] = free.get(next++);
                tables.add(table[s][b]);
            }
        }
        // The cache: random keys and values everywhere (rounded to bf16 for a bf16 cache).
        int arenaFloats = arenaBlocks * bs * kvDim;
        float[] kArena = GpuVerify.rand(arenaFloats, 1f), vArena = GpuVerify.rand(arenaFloats, 1f);
        if (kvType == KernelModule.BF16) {
            kArena = GpuVerify.bf16(kArena);
            vArena = GpuVerify.bf16(vArena);
        }
        // The batch: the sequences' runs in a shuffled order.
        List<Integer> order = new ArrayList<>();
        for (int s = 0; s < seqs.length; s++) {
            order.add(s);
        }
        Collections.shuffle(order, RNG);
        int n = 0;
        for (Seq s : seqs) {
            n += s.length;
        }
        int[] pos = new int[n], tableOff = new int[n], seqOf = new int[n];
        int t = 0;
        for (int s : order) {
            for (int i = 0; i < seqs[s].length; i++, t++) {
                pos[t] = seqs[s].context + i;
                tableOff[t] = tableAt[s];
                seqOf[t] = s;
            }
        }
        float[] qkv = GpuVerify.rand(n * width, 1f);
        float scale = (float) (1.0 / Math.sqrt(hd));

        long dK = kvType == KernelModule.BF16 ? GpuVerify.upBf16(kArena) : GpuVerify.up(kArena);
        long dV = kvType == KernelModule.BF16 ? GpuVerify.upBf16(vArena) : GpuVerify.up(vArena);
        long dq = GpuVerify.up(qkv), dPos = GpuVerify.up(pos), dOff = GpuVerify.up(tableOff);
        long dTab = GpuVerify.up(tables.stream().mapToInt(Integer::intValue).toArray());
        long dOut = Cuda.malloc(4L * n * qDim);

        k.pagedAttention(dq, dOut, outType, dK, dV, kvType, dPos, dOff, dTab, heads, kvHeads, hd, bs, scale, window, n);
        float[] paged = GpuVerify.downAs(dOut, outType, n * qDim);
        float[] twin = twin(qkv, kArena, vArena, pos, seqOf, table, heads, kvHeads, hd, bs, scale, window);
        if (outType != KernelModule.F32) {
            twin = outType == KernelModule.BF16 ? GpuVerify.bf16(twin) : GpuVerify.f16(twin);
        }
        String tag = String.format(Locale.ROOT, "%d/%d hd %d %s KV %s out%s, %d tokens", heads, kvHeads, hd,
                kvType == KernelModule.BF16 ? "bf16" : "f32", new String[] {"f32", "bf16", "f16"}[outType],
                window > 0 ? " window " + window : "", n);
        int[] mArr = new int[2 * n];
        System.arraycopy(pos, 0, mArr, 0, n);
        System.arraycopy(tableOff, 0, mArr, n, n);
        for (int warps : hd == 256 ? new int[] {4} : new int[] {4, 8}) {
            int[] tiles = new int[2 * n];
            int count = PrefillAttention.buildTiles(mArr, 0, n, n, PrefillAttention.tokensPerTile(heads, kvHeads, warps), window, tiles, 0);
            long dTiles = GpuVerify.up(tiles);
            Cuda.memset(dOut, 4L * n * qDim, GpuVerify.stream);
            PrefillAttention.launch(k, dq, dOut, outType, dK, dV, kvType, dPos, dOff, dTab, dTiles, count, heads, kvHeads, hd,
                    bs, scale, window, warps);
            float[] flash = GpuVerify.downAs(dOut, outType, n * qDim);
            GpuVerify.check("flash " + warps + "w vs twin (bf16 q,k,v) " + tag, flash, twin, 1e-2);
            GpuVerify.check("flash " + warps + "w vs paged_attention " + tag, flash, paged, 2e-2);
            Cuda.free(dTiles);
        }
        for (long d : new long[] {dK, dV, dq, dPos, dOff, dTab, dOut}) {
            Cuda.free(d);
        }
    }

    /**
     * CpuTwins.attention's computation (scores, softmax, weighted values over [max(0, p - window + 1), p]) in double,
     * on q, k and v rounded to bf16 as the kernel's tensor cores take them, over the host arena.
     */
    static float[] twin(float[] qkv, float[] kArena, float[] vArena, int[] pos, int[] seqOf, int[][] table, int heads,
                        int kvHeads, int hd, int bs, float scale, int window) {
        int n = pos.length, kvDim = kvHeads * hd, qDim = heads * hd, width = qDim + 2 * kvDim, group = heads / kvHeads;
        float[] out = new float[n * qDim];
        float[] q = GpuVerify.bf16(qkv), kr = GpuVerify.bf16(kArena), vr = GpuVerify.bf16(vArena);
        IntStream.range(0, n).parallel().forEach(t -> {
            int p = pos[t];
            int start = window > 0 ? Math.max(0, p - window + 1) : 0;
            double[] sc = new double[p - start + 1];
            int[] row = new int[p - start + 1];
            for (int j = start; j <= p; j++) {
                row[j - start] = (table[seqOf[t]][j / bs] * bs + j % bs) * kvDim;
            }
            for (int h = 0; h < heads; h++) {
                int g = h / group;
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < sc.length; j++) {
                    double d = 0;
                    for (int e = 0; e < hd; e++) {
                        d += (double) q[t * width + h * hd + e] * kr[row[j] + g * hd + e];
                    }
                    sc[j] = d * scale;
                    max = Math.max(max, sc[j]);
                }
                double sum = 0;
                for (int j = 0; j < sc.length; j++) {
                    sc[j] = Math.exp(sc[j] - max);
                    sum += sc[j];
                }
                for (int e = 0; e < hd; e++) {
                    double acc = 0;
                    for (int j = 0; j < sc.length; j++) {
                        acc += sc[j] * vr[row[j] + g * hd + e];
                    }
                    out[t * qDim + h * hd + e] = (float) (acc / sum);
                }
            }
        });
        return out;
    }

    /**
     * The runner end to end on a random-weight bf16 checkpoint: a batch of three prompts (300, 40 and 5 tokens), then a
     * step of a 100-token chunk after the first prompt, a decode token and a 20-token chunk, with the flash kernel and
     * with paged_attention (fresh caches each), and on the CPU engine: logits of every token.
     */
    static void modelCheck(ModelShape shape) throws Exception {
        Path dir = Path.of("/tmp/" + shape.name() + "-bf16");
        if (!Files.exists(dir.resolve("config.json"))) {
            RandomCheckpoint.write(shape, DType.BF16, 3, dir);
        }
        int[] lens = {300, 40, 5};
        int[] more = {100, 1, 20};
        int[][] prompts = new int[3][];
        for (int s = 0; s < 3; s++) {
            prompts[s] = RNG.ints(lens[s] + more[s], 0, shape.vocab()).toArray();
        }
        try (WorkerPool pool = new WorkerPool(4); DecoderModel cpu = Architectures.load(dir, pool);
             GpuLlamaModel gpu = new GpuLlamaModel(cpu, GpuLlamaModel.Precision.AS_STORED)) {
            gpu.setCudaGraphs(false);
            int vocab = gpu.vocabSize();
            KvBlockPool kv = gpu.newKvPool(16, 200);
            float[][][] logits = new float[3][2][]; // [flash, paged, cpu][step]
            boolean saved = PrefillAttention.enabled;
            long launchesBefore = PrefillAttention.totalLaunches();
            for (int mode = 0; mode < 3; mode++) {
                PrefillAttention.enabled = mode == 0;
                KvCache[] caches = new KvCache[3];
                for (int s = 0; s < 3; s++) {
                    caches[s] = mode == 2 ? cpu.newCache() : gpu.newCache(kv);
                }
                for (int step = 0; step < 2; step++) {
                    Batch b = new Batch(512);
                    int rows = 0;
                    for (int s = 0; s < 3; s++) {
                        int from = step == 0 ? 0 : lens[s], len = step == 0 ? lens[s] : more[s];
                        b.addSequence(prompts[s], from, from + len, from, caches[s], true);
                        rows += len;
                    }
                    logits[mode][step] = new float[rows * vocab];
                    if (mode == 2) {
                        cpu.forward(b, logits[mode][step]);
                    } else {
                        gpu.forward(b, logits[mode][step]);
                    }
                }
                for (KvCache c : caches) {
                    c.release();
                }
            }
            PrefillAttention.enabled = saved;
            String tag = shape.name() + " (" + shape.heads() + "/" + shape.kvHeads() + " heads, hd " + shape.headDim() + ")";
            long launches = PrefillAttention.totalLaunches() - launchesBefore;
            boolean ran = launches > 0;
            GpuVerify.failures += ran ? 0 : 1;
            System.out.printf("%s %s: the runner took the flash kernel (%d launches)%n", ran ? "PASS" : "FAIL", tag, launches);
            for (int step = 0; step < 2; step++) {
                String st = step == 0 ? "prefill 300+40+5" : "chunk 100 after 300, decode, chunk 20";
                GpuVerify.check(tag + " " + st + ": flash vs paged_attention logits", logits[0][step], logits[1][step], 2e-2);
                // Against the CPU engine (f32 everywhere) the bf16 runner differs anyway: flash may not add much to it.
                double flashCpu = relErr(logits[0][step], logits[2][step]), pagedCpu = relErr(logits[1][step], logits[2][step]);
                boolean ok = flashCpu <= Math.max(2 * pagedCpu, 1e-2);
                GpuVerify.failures += ok ? 0 : 1;
                System.out.printf(Locale.ROOT, "%s %s %s: vs CPU engine logits, rel %.3e with flash, %.3e with paged_attention (flash within max(2x, 1e-2))%n",
                        ok ? "PASS" : "FAIL", tag, st, flashCpu, pagedCpu);
                int[] a = argmaxRows(logits[0][step], vocab), c = argmaxRows(logits[1][step], vocab);
                int same = 0;
                for (int i = 0; i < a.length; i++) {
                    same += a[i] == c[i] ? 1 : 0;
                }
                System.out.printf("INFO %s %s: greedy ids flash vs paged_attention agree on %d of %d rows%n", tag, st, same, a.length);
            }
            gpu.releaseKvPool(kv);
        }
    }

    /** max |a - ref| / max |ref| (NaN in a: infinity). */
    static double relErr(float[] a, float[] ref) {
        return GraphChecks.relDiff(a, ref);
    }

    /** The argmax of each row (the first index of its maximum). */
    static int[] argmaxRows(float[] logits, int vocab) {
        return CpuTwins.argmax(logits, vocab);
    }

    /** Kernel time of one 2048-token prompt's attention, flash (each warp count) vs paged_attention, f32 and bf16 KV. */
    static void bench(String name, int heads, int kvHeads, int hd) {
        KernelModule k = GpuVerify.k;
        int n = 2048, bs = 16, kvDim = kvHeads * hd, qDim = heads * hd, width = qDim + 2 * kvDim;
        int blocks = n / bs;
        int[] pos = new int[n], off = new int[n], tables = new int[blocks];
        for (int t = 0; t < n; t++) {
            pos[t] = t;
        }
        for (int b = 0; b < blocks; b++) {
            tables[b] = b;
        }
        long dq = GpuVerify.up(GpuVerify.rand(n * width, 1f)), dPos = GpuVerify.up(pos), dOff = GpuVerify.up(off), dTab = GpuVerify.up(tables);
        long dOut = Cuda.malloc(2L * n * qDim);
        float scale = (float) (1.0 / Math.sqrt(hd));
        double flops = 4.0 * n * (double) n / 2 * hd * heads;
        for (int kvType : new int[] {KernelModule.F32, KernelModule.BF16}) {
            float[] cache = GpuVerify.rand(n * kvDim, 1f);
            long dK = kvType == KernelModule.BF16 ? GpuVerify.upBf16(cache) : GpuVerify.up(cache);
            long dV = kvType == KernelModule.BF16 ? GpuVerify.upBf16(cache) : GpuVerify.up(cache);
            String kvName = kvType == KernelModule.BF16 ? "bf16" : "f32";
            double paged = time(() -> k.pagedAttention(dq, dOut, KernelModule.BF16, dK, dV, kvType, dPos, dOff, dTab, heads, kvHeads, hd,
                    bs, scale, 0, n));
            System.out.printf(Locale.ROOT, "BENCH prefill-attention %-12s %s KV, 2048 tokens: paged_attention %.3f ms, %.1f TFLOP/s%n",
                    name, kvName, paged * 1e3, flops / paged / 1e12);
            for (int warps : hd == 256 ? new int[] {4} : new int[] {4, 8}) {
                int[] m = new int[2 * n];
                System.arraycopy(pos, 0, m, 0, n);
                int[] tiles = new int[2 * n];
                int count = PrefillAttention.buildTiles(m, 0, n, n, PrefillAttention.tokensPerTile(heads, kvHeads, warps), 0, tiles, 0);
                long dTiles = GpuVerify.up(tiles);
                double flash = time(() -> PrefillAttention.launch(k, dq, dOut, KernelModule.BF16, dK, dV, kvType, dPos, dOff, dTab,
                        dTiles, count, heads, kvHeads, hd, bs, scale, 0, warps));
                System.out.printf(Locale.ROOT, "BENCH prefill-attention %-12s %s KV, 2048 tokens: flash %dw %.3f ms, %.1f TFLOP/s (%.1fx paged_attention), %d tiles x %d%n",
                        name, kvName, warps, flash * 1e3, flops / flash / 1e12, paged / flash, count, PrefillAttention.gridY(heads, kvHeads, warps));
                Cuda.free(dTiles);
            }
            Cuda.free(dK);
            Cuda.free(dV);
        }
        for (long d : new long[] {dq, dPos, dOff, dTab, dOut}) {
            Cuda.free(d);
        }
    }

    /** Seconds per call: two warm-up calls, then the mean of enough calls for about 0.3 s (at least 5). */
    static double time(Runnable launch) {
        launch.run();
        launch.run();
        Cuda.sync(GpuVerify.stream);
        long t0 = System.nanoTime();
        launch.run();
        Cuda.sync(GpuVerify.stream);
        double one = (System.nanoTime() - t0) / 1e9;
        int reps = (int) Math.max(5, Math.min(200, 0.3 / Math.max(one, 1e-6)));
        t0 = System.nanoTime();
        for (int r = 0; r < reps; r++) {
            launch.run();
        }
        Cuda.sync(GpuVerify.stream);
        return (System.nanoTime() - t0) / 1e9 / reps;
    }
}
