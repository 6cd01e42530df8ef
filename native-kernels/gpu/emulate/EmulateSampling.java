import dev.llmplatform.engine.runtime.*;
import java.nio.*;
import java.nio.file.*;
import java.util.*;

/**
 * Checks sampling.cuh's kernel without a GPU: random rows (fine, quarter-step and integer logits, so that cuts fall
 * inside runs of ties; NaN, -0 and -inf planted; every setting of top-k, top-p and min-p) are written to in.bin, the
 * kernel's source compiled for the host (harness.cpp with cuda_emu.h) picks ids, and SamplingRule must pick the same.
 * Usage (run.sh): java -cp inference-engine/target/classes EmulateSampling.java ROWS VOCAB SEED
 */
public class EmulateSampling {
    // [top-k cut inside a tie run, top-p cut inside a tie run] by the rule, computed the slow way
    static int[] tieSplits(float[] l, SamplingRow row) {
        int V = l.length;
        if (row.greedy()) return new int[2];
        Integer[] o = new Integer[V];
        for (int i = 0; i < V; i++) o[i] = i;
        java.util.function.IntFunction<Float> c = i -> Float.isNaN(l[i]) ? Float.NEGATIVE_INFINITY : l[i];
        Arrays.sort(o, (a, b) -> c.apply(a).equals(c.apply(b)) || (c.apply(a) == 0f && c.apply(b) == 0f) ? Integer.compare(a, b) : Float.compare(c.apply(b), c.apply(a)));
        float max = c.apply(o[0]);
        if (Float.isInfinite(max)) return new int[2];
        float fy = Math.max(-40f, row.log2MinP());
        int n = 0;
        while (n < V && (l[o[n]] - max) * row.scale() >= fy) n++;
        int[] res = new int[2];
        if (row.topK() > 0 && row.topK() < n) {
            if (l[o[row.topK() - 1]] == l[o[row.topK()]]) res[0] = 1;
            n = row.topK();
        }
        if (row.topP() < 1) {
            long z = 0;
            for (int j = 0; j < n; j++) z += SamplingRule.weight((l[o[j]] - max) * row.scale());
            long target = Math.min(z, (long) Math.ceil(row.topP() * (double) z));
            if (target < z) {
                long acc = 0;
                for (int j = 0; j < n; j++) {
                    acc += SamplingRule.weight((l[o[j]] - max) * row.scale());
                    if (acc >= target) { if (j + 1 < n && l[o[j]] == l[o[j + 1]]) res[1] = 1; break; }
                }
            }
        }
        return res;
    }

    public static void main(String[] a) throws Exception {
        int n = Integer.parseInt(a[0]), V = Integer.parseInt(a[1]);
        long seed = Long.parseLong(a[2]);
        SplittableRandom rng = new SplittableRandom(seed);
        int[] K = {0, 1, 2, 40, 1000}; double[] P = {1, 0.9, 0.5, 0.999}; double[] M = {0, 0.05, 1};
        SamplingRow[] rows = new SamplingRow[n];
        float[] l = new float[n * V];
        for (int r = 0; r < n; r++) {
            int mode = r % 4;
            double spread = 0.5 + 3 * rng.nextDouble();
            for (int i = 0; i < V; i++) {
                double v = rng.nextGaussian() * spread;
                l[r * V + i] = mode == 1 ? (float) (Math.floor(v * 4) / 4) : mode == 2 ? (float) Math.floor(v) : (float) v;
            }
            if (mode == 3) { for (int j = 0; j < 5; j++) l[r * V + rng.nextInt(V)] = (float) (spread * 4); }
            if (rng.nextInt(10) == 0) l[r * V + rng.nextInt(V)] = Float.NaN;
            if (rng.nextInt(10) == 0) l[r * V + rng.nextInt(V)] = -0f;
            if (rng.nextInt(10) == 0) l[r * V + rng.nextInt(V)] = Float.NEGATIVE_INFINITY;
            if (rng.nextInt(8) == 0) rows[r] = SamplingRow.GREEDY;
            else rows[r] = SamplingRow.of(new SamplingParams(0.3 + rng.nextDouble() * 1.5, K[rng.nextInt(K.length)], P[rng.nextInt(P.length)], M[rng.nextInt(M.length)], 1, 0, 0, null), rng.nextDouble());
        }
        ByteBuffer b = ByteBuffer.allocate(8 + 32 * n + 4 * n * V).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(n).putInt(V);
        for (SamplingRow r : rows) {
            b.putFloat(r.scale()).putInt(r.topK()).putFloat(r.log2MinP()).putInt(0).putDouble(r.topP()).putDouble(r.u());
        }
        for (float v : l) b.putFloat(v);
        Files.write(Path.of("in.bin"), b.array());
        Process p = new ProcessBuilder(System.getProperty("harness", "./harness"), "in.bin", "out.bin").inheritIO().start();
        if (p.waitFor() != 0) throw new IllegalStateException("harness failed");
        ByteBuffer o = ByteBuffer.wrap(Files.readAllBytes(Path.of("out.bin"))).order(ByteOrder.LITTLE_ENDIAN);
        SamplingRule rule = new SamplingRule();
        int same = 0, kSplit = 0, pSplit = 0;
        for (int r = 0; r < n; r++) {
            int[] t = tieSplits(Arrays.copyOfRange(l, r * V, (r + 1) * V), rows[r]);
            kSplit += t[0]; pSplit += t[1];
        }
        System.out.println("rows whose top-k cut splits a run of tied logits: " + kSplit + ", top-p cut: " + pSplit);
        for (int r = 0; r < n; r++) {
            int gpu = o.getInt(), cpu = rule.select(l, r * V, V, rows[r]);
            if (gpu == cpu) same++;
            else System.out.println("row " + r + " mode " + (r % 4) + " " + rows[r] + ": emu " + gpu + " vs cpu " + cpu);
        }
        System.out.println("identical " + same + "/" + n + " (V=" + V + ")");
    }
}
