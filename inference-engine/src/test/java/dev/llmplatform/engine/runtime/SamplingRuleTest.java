package dev.llmplatform.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class SamplingRuleTest {

    /**
     * The rule as SamplingRule's documentation states it, computed the slow, obvious way: sort the whole vocabulary,
     * cut prefixes, walk the survivors in id order. SamplingRule (quickselect) and the GPU kernel (radix selection)
     * must both give this.
     */
    static int reference(float[] logits, SamplingRow row) {
        int v = logits.length;
        Integer[] order = IntStream.range(0, v).boxed().toArray(Integer[]::new);
        Comparator<Integer> byRank = (a, b) -> {
            float la = canonical(logits[a]), lb = canonical(logits[b]);
            return la != lb ? Float.compare(lb, la) : Integer.compare(a, b);
        };
        Arrays.sort(order, byRank);
        float max = canonical(logits[order[0]]);
        if (row.greedy() || Float.isInfinite(max)) {
            return order[0];
        }
        float floorY = Math.max(-40f, row.log2MinP());
        int n = 0;
        while (n < v && (logits[order[n]] - max) * row.scale() >= floorY) {
            n++;
        }
        if (row.topK() > 0) {
            n = Math.min(n, row.topK());
        }
        long z = 0;
        for (int j = 0; j < n; j++) {
            z += SamplingRule.weight((logits[order[j]] - max) * row.scale());
        }
        if (row.topP() < 1) {
            long target = Math.min(z, (long) Math.ceil(row.topP() * (double) z));
            long acc = 0;
            for (int j = 0; j < n; j++) {
                acc += SamplingRule.weight((logits[order[j]] - max) * row.scale());
                if (acc >= target) {
                    n = j + 1;
                    break;
                }
            }
        }
        int[] survivors = new int[n];
        for (int j = 0; j < n; j++) {
            survivors[j] = order[j];
        }
        Arrays.sort(survivors);
        long s = 0;
        for (int id : survivors) {
            s += SamplingRule.weight((logits[id] - max) * row.scale());
        }
        long r = Math.min(s - 1, (long) (row.u() * (double) s));
        long acc = 0;
        for (int id : survivors) {
            acc += SamplingRule.weight((logits[id] - max) * row.scale());
            if (acc > r) {
                return id;
            }
        }
        throw new AssertionError();
    }

    private static float canonical(float l) {
        return Float.isNaN(l) ? Float.NEGATIVE_INFINITY : l;
    }

    @Test
    void weightsAreTwoToTheYInFixedPoint() {
        assertEquals(1L << 40, SamplingRule.weight(0f));
        assertEquals(1L << 39, SamplingRule.weight(-1f));
        assertEquals(1L, SamplingRule.weight(-40f));
        assertEquals(0L, SamplingRule.weight(Math.nextDown(-40f)));
        assertEquals(0L, SamplingRule.weight(Float.NaN));
        assertEquals(0L, SamplingRule.weight(Float.NEGATIVE_INFINITY));
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < 100_000; i++) {
            float y = (float) -r.nextDouble(0, 30);
            double exact = Math.pow(2, y + 40.0);
            double w = SamplingRule.weight(y);
            // the polynomial (1.1e-7), the float rounding of p (6e-8) and the truncation (1 unit)
            assertTrue(Math.abs(w - exact) <= exact * 3e-7 + 1, "y " + y + ": " + w + " vs " + exact);
        }
        // the weight never increases as y goes down: coarse steps over [-41, 0], every float near each integer
        long prev = Long.MAX_VALUE;
        for (int i = 0; i <= 4_100_000; i++) {
            float y = -i * 1e-5f;
            long w = SamplingRule.weight(y);
            assertTrue(w <= prev, "weight(" + y + ") = " + w + " > " + prev);
            prev = w;
        }
        for (int k = 0; k >= -40; k--) {
            // from 10,000 floats above the integer k down to 10,000 below it
            prev = Long.MAX_VALUE;
            float y = k;
            for (int j = 0; j < 10_000; j++) {
                y = Math.nextUp(y);
            }
            for (int j = 0; j < 20_000 && y >= -40f; j++, y = Math.nextDown(y)) {
                long w = SamplingRule.weight(y);
                assertTrue(w <= prev, "weight(" + y + ") = " + w + " > " + prev);
                prev = w;
            }
        }
    }

    @Test
    void quickselectGivesTheReferenceTokenOnRandomRowsWithTies() {
        SplittableRandom r = new SplittableRandom(7);
        SamplingRule rule = new SamplingRule();
        int[] topKs = {0, 1, 2, 5, 40, 1000};
        double[] topPs = {1, 0.9, 0.5, 0.1, 0.999};
        double[] minPs = {0, 0.05, 0.5, 1};
        for (int c = 0; c < 3000; c++) {
            int vocab = 1 + r.nextInt(c % 10 == 0 ? 3000 : 300);
            float[] logits = new float[vocab];
            // coarse values make many exact ties (at the top-k and top-p boundaries too)
            boolean coarse = r.nextBoolean();
            for (int i = 0; i < vocab; i++) {
                logits[i] = coarse ? (float) Math.floor(r.nextGaussian() * 4) / 2 : (float) (r.nextGaussian() * 3);
            }
            if (r.nextInt(20) == 0) {
                logits[r.nextInt(vocab)] = Float.NaN;
            }
            if (r.nextInt(20) == 0) {
                logits[r.nextInt(vocab)] = Float.NEGATIVE_INFINITY;
            }
            if (r.nextInt(20) == 0) {
                logits[r.nextInt(vocab)] = -0f;
            }
            double t = 0.3 + r.nextDouble() * 1.5;
            SamplingParams p = new SamplingParams(t, topKs[r.nextInt(topKs.length)], topPs[r.nextInt(topPs.length)],
                    minPs[r.nextInt(minPs.length)], 1, 0, 0, null);
            SamplingRow row = SamplingRow.of(p, r.nextDouble());
            float[] copy = logits.clone();
            assertEquals(reference(logits, row), rule.select(copy, 0, vocab, row), "case " + c + " " + row);
            assertTrue(Arrays.equals(logits, copy) || hasNaN(logits), "select leaves the logits alone");
        }
    }

    private static boolean hasNaN(float[] a) {
        for (float v : a) {
            if (Float.isNaN(v)) {
                return true;
            }
        }
        return false;
    }

    @Test
    void largeVocabulariesAtAnOffset() {
        SplittableRandom r = new SplittableRandom(11);
        SamplingRule rule = new SamplingRule();
        int vocab = 32000;
        float[] two = new float[2 * vocab];
        for (int c = 0; c < 20; c++) {
            for (int i = 0; i < two.length; i++) {
                two[i] = (float) (r.nextGaussian() * 2.5);
            }
            SamplingRow row = new SamplingRow(SamplingRow.scaleOf(0.5 + r.nextDouble()), c % 2 == 0 ? 0 : 40,
                    c % 3 == 0 ? 1 : 0.9, c % 4 == 0 ? SamplingRow.log2MinP(0.05) : Float.NEGATIVE_INFINITY, r.nextDouble());
            float[] second = Arrays.copyOfRange(two, vocab, 2 * vocab);
            assertEquals(reference(second, row), rule.select(two, vocab, vocab, row), "case " + c);
        }
    }

    @Test
    void tiesAtTheTopKBoundaryGoToTheLowerIds() {
        // ids 1, 3, 5 tie for second place; top-2 keeps 0 and 1 only; u near 1 takes the last survivor in id order
        float[] l = {5, 4, 0, 4, 0, 4};
        SamplingRule rule = new SamplingRule();
        SamplingRow high = new SamplingRow(SamplingRow.scaleOf(1), 2, 1, Float.NEGATIVE_INFINITY, 0.999999);
        assertEquals(1, rule.select(l, 0, l.length, high));
        SamplingRow low = new SamplingRow(SamplingRow.scaleOf(1), 2, 1, Float.NEGATIVE_INFINITY, 0);
        assertEquals(0, rule.select(l, 0, l.length, low));
    }

    @Test
    void topPKeepsTheShortestPrefixAndCutsTiesById() {
        // four equal logits: each a quarter; p = 0.5 keeps exactly two of them, the lower ids 0 and 1
        float[] l = {1, 1, 1, 1};
        SamplingRule rule = new SamplingRule();
        int[] counts = new int[4];
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < 4000; i++) {
            counts[rule.select(l, 0, 4, new SamplingRow(SamplingRow.scaleOf(1), 0, 0.5, Float.NEGATIVE_INFINITY, r.nextDouble()))]++;
        }
        assertEquals(0, counts[2] + counts[3], Arrays.toString(counts));
        assertTrue(counts[0] > 1800 && counts[1] > 1800, Arrays.toString(counts));
        // p a hair above one half needs a third token
        counts = new int[4];
        for (int i = 0; i < 4000; i++) {
            counts[rule.select(l, 0, 4, new SamplingRow(SamplingRow.scaleOf(1), 0, 0.5000001, Float.NEGATIVE_INFINITY, r.nextDouble()))]++;
        }
        assertTrue(counts[2] > 1000 && counts[3] == 0, Arrays.toString(counts));
    }

    @Test
    void topPIsOverTheDistributionRenormalisedAfterTopK() {
        // probabilities about 0.42, 0.42, 0.16 (and a tail); top-2 renormalises to one half each, so p = 0.5 keeps
        // only the first (lower id of the tie)
        float[] l = {2, 2, 1, -5, -5, -5};
        SamplingRule rule = new SamplingRule();
        SplittableRandom r = new SplittableRandom(5);
        for (int i = 0; i < 200; i++) {
            assertEquals(0, rule.select(l, 0, l.length, new SamplingRow(SamplingRow.scaleOf(1), 2, 0.5, Float.NEGATIVE_INFINITY, r.nextDouble())));
        }
    }

    @Test
    void samplingFollowsTheFilteredSoftmax() {
        float[] l = {1.0f, 3.0f, 2.5f, -1.0f, 0.5f, 2.9f, -3.0f, 0.0f};
        SamplingRule rule = new SamplingRule();
        SplittableRandom r = new SplittableRandom(9);
        // temperature 0.8, top-k 5 (drops 3, 6, 7), min-p 0.05 (drops 4: e^((0.5-3)/0.8) = 0.044), top-p 1
        double[] expected = new double[l.length];
        double sum = 0;
        for (int i : new int[] {0, 1, 2, 5}) {
            expected[i] = Math.exp((l[i] - 3.0) / 0.8);
            sum += expected[i];
        }
        int draws = 200_000;
        int[] counts = new int[l.length];
        SamplingParams p = new SamplingParams(0.8, 5, 1, 0.05, 1, 0, 0, null);
        for (int i = 0; i < draws; i++) {
            counts[rule.select(l, 0, l.length, SamplingRow.of(p, r.nextDouble()))]++;
        }
        for (int i = 0; i < l.length; i++) {
            double e = expected[i] / sum;
            double o = counts[i] / (double) draws;
            double sigma = Math.sqrt(e * (1 - e) / draws);
            assertTrue(Math.abs(o - e) <= 5 * sigma + 1e-9, "token " + i + ": observed " + o + ", expected " + e);
        }
    }

    @Test
    void degenerateRowsTakeTheFirstRankedToken() {
        SamplingRule rule = new SamplingRule();
        SamplingRow row = new SamplingRow(SamplingRow.scaleOf(1), 0, 0.9, Float.NEGATIVE_INFINITY, 0.5);
        assertEquals(2, rule.select(new float[] {1, 2, Float.POSITIVE_INFINITY, Float.POSITIVE_INFINITY}, 0, 4, row));
        assertEquals(0, rule.select(new float[] {Float.NaN, Float.NaN}, 0, 2, row));
        // NaN ranks as -infinity: all three tie, the lowest id wins
        assertEquals(0, rule.select(new float[] {Float.NaN, Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY}, 0, 3, row));
        assertEquals(1, rule.select(new float[] {Float.NaN, 3, 3}, 0, 3, SamplingRow.GREEDY));
        // a temperature whose log2(e) / T overflows a float: only the tied top logits remain, drawn uniformly
        SamplingRow cold = SamplingRow.of(new SamplingParams(1e-300, 0, 1, 0, 1, 0, 0, null), 0.75);
        assertEquals(Float.MAX_VALUE, cold.scale());
        assertEquals(3, rule.select(new float[] {1, 3, 2, 3}, 0, 4, cold));
    }
}
