package dev.llmplatform.nativekernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** Needs no GPU: the query tiles of a batch and when the flash prefill kernel is planned. */
class PrefillAttentionTest {

    /** positions at m[0..n), table offsets at m[n..2n). */
    private static int[] meta(int[] pos, int[] off) {
        int n = pos.length;
        int[] m = new int[4 * n];
        System.arraycopy(pos, 0, m, 0, n);
        System.arraycopy(off, 0, m, n, n);
        return m;
    }

    @Test
    void tilesShouldCoverEveryTokenOnceWithinItsRunLongestKeyRangeFirst() {
        Random rnd = new Random(5);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + rnd.nextInt(300);
            int[] pos = new int[n], off = new int[n];
            int seq = 0, p = rnd.nextInt(50);
            for (int t = 0; t < n; t++) {
                int r = rnd.nextInt(20);
                if (t > 0 && r == 0) {
                    seq++;
                    p = rnd.nextInt(500);
                } else if (t > 0 && r == 1) {
                    p += 3; // same table, a gap: a new run
                } else if (t > 0) {
                    p++;
                }
                pos[t] = p;
                off[t] = 7 * seq;
            }
            int tpt = new int[] {1, 2, 9, 16, 64}[rnd.nextInt(5)];
            int window = rnd.nextBoolean() ? 0 : 1 + rnd.nextInt(100);
            int[] m = meta(pos, off);
            int[] tiles = new int[2 * n];
            int count = PrefillAttention.buildTiles(m, 0, n, n, tpt, window, tiles, 0);
            int[] covered = new int[n];
            long prevSpan = Long.MAX_VALUE;
            for (int i = 0; i < count; i++) {
                int first = tiles[2 * i], c = tiles[2 * i + 1];
                assertTrue(c >= 1 && c <= tpt, "count " + c);
                for (int t = first; t < first + c; t++) {
                    covered[t]++;
                    if (t > first) {
                        assertEquals(off[first], off[t]);
                        assertEquals(pos[t - 1] + 1, pos[t]);
                    }
                }
                long span = c + (long) (window > 0 ? Math.min(pos[first], window - 1) : pos[first]);
                assertTrue(span <= prevSpan, "longest key range first");
                prevSpan = span;
            }
            for (int t = 0; t < n; t++) {
                assertEquals(1, covered[t], "token " + t);
            }
            // Runs are maximal: a tile shorter than tpt ends its run.
            for (int i = 0; i < count; i++) {
                int end = tiles[2 * i] + tiles[2 * i + 1];
                if (tiles[2 * i + 1] < tpt && end < n) {
                    assertFalse(off[end] == off[end - 1] && pos[end] == pos[end - 1] + 1, "run cut short at " + end);
                }
            }
        }
    }

    @Test
    void shouldStackAGroupsHeadsIntoTheBlockRows() {
        assertEquals(64, PrefillAttention.tokensPerTile(32, 32, 4)); // Llama-2-7B: one head per block
        assertEquals(16, PrefillAttention.tokensPerTile(32, 8, 4));  // Llama-3.2-1B: 4 heads share a KV head
        assertEquals(9, PrefillAttention.tokensPerTile(28, 4, 4));   // a group of 7: 63 of 64 rows
        assertEquals(2, PrefillAttention.tokensPerTile(32, 1, 4));   // MQA
        assertEquals(1, PrefillAttention.tokensPerTile(136, 1, 4));  // a group beyond a block: chunks of 64 heads
        assertEquals(3, PrefillAttention.gridY(136, 1, 4));
        assertEquals(8, PrefillAttention.gridY(32, 8, 4));
        assertEquals(52992, PrefillAttention.sharedBytes(128, 4, KernelModule.F32));
        assertEquals(87808, PrefillAttention.sharedBytes(128, 4, KernelModule.BF16));
        assertEquals(28416, PrefillAttention.sharedBytes(64, 4, KernelModule.F32));
        assertEquals(50880, PrefillAttention.sharedBytes(256, 4, KernelModule.F32));
        assertTrue(PrefillAttention.sharedBytes(128, 8, KernelModule.BF16) <= 227 * 1024);
    }

    @Test
    void shouldPlanOnlyEagerBf16PassesWithALongRun() {
        int n = 40;
        int[] pos = new int[n], off = new int[n];
        for (int t = 0; t < n; t++) {
            pos[t] = t < 20 ? 100 + t : t; // a 20-token chunk after context, then a 20-token prompt of another table
            off[t] = t < 20 ? 0 : 9;
        }
        PrefillAttention pa = new PrefillAttention();
        int[] m = new int[4 * n + PrefillAttention.metaInts(n)];
        System.arraycopy(pos, 0, m, n, n);
        System.arraycopy(off, 0, m, 2 * n, n);
        long dMeta = 1 << 20;
        int ints = pa.plan(m, n, n, 2 * n, 4 * n, dMeta, 32, 8, 128, 0, KernelModule.BF16, false);
        assertEquals(2 * 4, ints, "two runs of 20 at 16 tokens per tile: 4 tiles");
        assertEquals(0, pa.plan(m, n, n, 2 * n, 4 * n, dMeta, 32, 8, 128, 0, KernelModule.F32, false), "f32 runner");
        assertEquals(0, pa.plan(m, n, n, 2 * n, 4 * n, dMeta, 32, 8, 128, 0, KernelModule.BF16, true), "ALiBi");
        assertEquals(0, pa.plan(m, n, n, 2 * n, 4 * n, dMeta, 8, 4, 40, 0, KernelModule.BF16, false), "head dim 40");
        // Not for another pass: a plan binds to its positions buffer and token count.
        assertTrue(pa.plan(m, n, n, 2 * n, 4 * n, dMeta, 32, 8, 128, 0, KernelModule.BF16, false) > 0);
        assertFalse(pa.attention(null, 0, 0, 0, 0, 0, 0, dMeta + 4L * n + 4096, 0, 0, 32, 8, 128, 16, 1f, 0, n));
        assertFalse(pa.attention(null, 0, 0, 0, 0, 0, 0, dMeta + 4L * n, 0, 0, 32, 8, 128, 16, 1f, 0, n - 1));
        // Decode tokens only: no run of 16.
        int[] dec = new int[4 * n + 2 * n];
        for (int t = 0; t < n; t++) {
            dec[n + t] = 50 + t;
            dec[2 * n + t] = 3 * t;
        }
        assertEquals(0, pa.plan(dec, n, n, 2 * n, 4 * n, dMeta, 32, 8, 128, 0, KernelModule.BF16, false));
        assertFalse(pa.attention(null, 0, 0, 0, 0, 0, 0, dMeta + 4L * n, 0, 0, 32, 8, 128, 16, 1f, 0, n));
        // A 20-token chunk at position 0 beside 20 decode tokens at position 1000: the decode tokens hold the work.
        int[] mixed = new int[4 * n + 2 * n];
        for (int t = 0; t < n; t++) {
            mixed[n + t] = t < 20 ? t : 1000 + t;
            mixed[2 * n + t] = t < 20 ? 0 : 5 * t;
        }
        assertEquals(0, pa.plan(mixed, n, n, 2 * n, 4 * n, dMeta, 32, 8, 128, 0, KernelModule.BF16, false));
        // Beside decode tokens with short contexts the chunk holds the work: flash for all 40 tokens.
        for (int t = 20; t < n; t++) {
            mixed[n + t] = 2;
        }
        assertEquals(2 * (2 + 20), pa.plan(mixed, n, n, 2 * n, 4 * n, dMeta, 32, 8, 128, 0, KernelModule.BF16, false),
                "two 16-token tiles... of the chunk (16 + 4) and one tile per decode token");
    }
}
