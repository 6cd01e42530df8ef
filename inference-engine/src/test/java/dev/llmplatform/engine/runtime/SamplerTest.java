package dev.llmplatform.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SamplerTest {
    private static final float[] LOGITS = {1.0f, 3.0f, 2.5f, -1.0f, 0.5f, 2.9f, -3.0f, 0.0f};

    private static SamplingParams params(double t, int k, double p, double minP, long seed) {
        return new SamplingParams(t, k, p, minP, 1, 0, 0, seed);
    }

    private static int[] histogram(SamplingParams params, int draws) {
        Sampler s = new Sampler(params, LOGITS.length, new int[0]);
        int[] counts = new int[LOGITS.length];
        for (int i = 0; i < draws; i++) {
            counts[s.sample(LOGITS.clone(), 0)]++;
        }
        return counts;
    }

    private static double[] softmax(float[] logits, double temperature) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.exp((logits[i] - max) / temperature);
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    @Test
    void greedyPicksTheLargestLogit() {
        Sampler s = new Sampler(SamplingParams.GREEDY, LOGITS.length, new int[0]);
        assertEquals(1, s.sample(LOGITS.clone(), 0));
    }

    @Test
    void temperatureSamplingFollowsTheSoftmaxDistribution() {
        int draws = 200_000;
        int[] counts = histogram(params(0.7, 0, 1, 0, 7), draws);
        double[] expected = softmax(LOGITS, 0.7);
        for (int i = 0; i < LOGITS.length; i++) {
            double observed = counts[i] / (double) draws;
            double sigma = Math.sqrt(expected[i] * (1 - expected[i]) / draws);
            assertTrue(Math.abs(observed - expected[i]) < 5 * sigma + 1e-4,
                    "token " + i + ": observed " + observed + ", expected " + expected[i]);
        }
    }

    @Test
    void topKKeepsOnlyTheKMostLikely() {
        int[] counts = histogram(params(1, 2, 1, 0, 3), 20_000);
        // the two largest logits are ids 1 (3.0) and 5 (2.9)
        for (int i = 0; i < counts.length; i++) {
            if (i != 1 && i != 5) {
                assertEquals(0, counts[i], "token " + i + " is outside the top 2: " + Arrays.toString(counts));
            }
        }
        assertTrue(counts[1] > 0 && counts[5] > 0);
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        double[] p = softmax(LOGITS, 1);
        // sorted: 1, 5, 2, 0, 4, 7, 3, 6; the first three cover p[1]+p[5]+p[2]
        double mass = p[1] + p[5] + p[2];
        int[] counts = histogram(params(1, 0, mass - 1e-3, 0, 5), 20_000);
        for (int i : new int[] {0, 3, 4, 6, 7}) {
            assertEquals(0, counts[i], Arrays.toString(counts));
        }
        assertTrue(counts[1] > 0 && counts[5] > 0 && counts[2] > 0);
    }

    @Test
    void minPDropsTokensFarBelowTheBest() {
        double[] p = softmax(LOGITS, 1);
        double ratio = p[0] / p[1]; // keep exactly ids whose probability is at least p[0]
        int[] counts = histogram(params(1, 0, 1, ratio * 0.999, 11), 20_000);
        for (int i : new int[] {3, 4, 6, 7}) {
            assertEquals(0, counts[i], Arrays.toString(counts));
        }
        assertTrue(counts[0] > 0);
    }

    @Test
    void theSameSeedGivesTheSameDraws() {
        assertEquals(Arrays.toString(histogramSequence(42)), Arrays.toString(histogramSequence(42)));
        assertNotEquals(Arrays.toString(histogramSequence(42)), Arrays.toString(histogramSequence(43)));
    }

    private static int[] histogramSequence(long seed) {
        Sampler s = new Sampler(params(1.0, 0, 1, 0, seed), LOGITS.length, new int[0]);
        int[] seq = new int[64];
        for (int i = 0; i < seq.length; i++) {
            seq[i] = s.sample(LOGITS.clone(), 0);
        }
        return seq;
    }

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeLogitsOfSeenTokens() {
        // ids 1 (3.0) and 3 (-1.0) are in the prompt; penalty 2 makes them 1.5 and -2.0, so id 5 (2.9) wins
        Sampler s = new Sampler(new SamplingParams(0, 0, 1, 0, 2, 0, 0, null), LOGITS.length, new int[] {1, 3});
        float[] l = LOGITS.clone();
        assertEquals(5, s.sample(l, 0));
        assertEquals(1.5f, l[1]);
        assertEquals(-2.0f, l[3]);
        assertEquals(2.9f, l[5]);
    }

    @Test
    void presenceAndFrequencyPenaltiesApplyToGeneratedTokensOnly() {
        Sampler s = new Sampler(new SamplingParams(0, 0, 1, 0, 1, 0.5, 0.25, null), LOGITS.length, new int[] {2});
        s.accept(1);
        s.accept(1);
        float[] l = LOGITS.clone();
        s.sample(l, 0);
        assertEquals(3.0f - 0.5f - 2 * 0.25f, l[1], 1e-6);
        assertEquals(2.5f, l[2], "prompt tokens are not penalised by presence/frequency");
    }

    @Test
    void logitBiasIsAddedBeforeThePenalties() {
        // id 3 (-1.0) gets +5 -> 4.0, then repetition penalty 2 (it is in the prompt) -> 2.0; id 6 (-3.0) gets +6 -> 3.0
        // and is not penalised, id 1 (3.0) gets -100 and drops out: greedy picks id 6.
        SamplingParams p = new SamplingParams(0, 0, 1, 0, 2, 0, 0, null, Map.of(3, 5f, 6, 6f, 1, -100f));
        Sampler s = new Sampler(p, LOGITS.length, new int[] {3});
        float[] l = LOGITS.clone();
        assertEquals(6, s.sample(l, 0));
        assertEquals(2.0f, l[3], 1e-6, "bias first, then the penalty");
        assertEquals(3.0f, l[6], 1e-6);
        assertEquals(-97.0f, l[1], 1e-4);
    }

    @Test
    void logitBiasOfMinus100BansATokenWhenSampling() {
        SamplingParams p = params(1, 0, 1, 0, 9).withLogitBias(Map.of(1, -100f, 5, -100f));
        int[] counts = new int[LOGITS.length];
        Sampler s = new Sampler(p, LOGITS.length, new int[0]);
        for (int i = 0; i < 20_000; i++) {
            counts[s.sample(LOGITS.clone(), 0)]++;
        }
        assertEquals(0, counts[1], Arrays.toString(counts));
        assertEquals(0, counts[5], Arrays.toString(counts));
        assertTrue(counts[2] > 0);
    }

    @Test
    void logitBiasIsValidated() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> SamplingParams.GREEDY.withLogitBias(Map.of(2, 101f)));
        assertTrue(e.getMessage().startsWith("logit_bias"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> SamplingParams.GREEDY.withLogitBias(Map.of(-1, 1f)));
        assertTrue(e.getMessage().startsWith("logit_bias"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new Sampler(SamplingParams.GREEDY.withLogitBias(Map.of(LOGITS.length, 1f)), LOGITS.length, new int[0]));
        assertTrue(e.getMessage().contains("outside the vocabulary"), e.getMessage());
        assertEquals(Map.of(), SamplingParams.GREEDY.logitBias(), "the 8-argument constructor means no bias");
        assertEquals(Map.of(2, 3f), SamplingParams.GREEDY.withLogitBias(Map.of(2, 3f)).withSeed(4L).withTemperature(1).logitBias());
    }

    @Test
    void absurdParametersAreRefusedNamingTheParameter() {
        var e = assertThrows(IllegalArgumentException.class, () -> new SamplingParams(-1, 0, 1, 0, 1, 0, 0, null));
        assertTrue(e.getMessage().contains("temperature"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1, 0, 1.5, 0, 1, 0, 0, null));
        assertTrue(e.getMessage().contains("top_p"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1, 0, 1, 0, 1, 0, Double.NaN, null));
        assertTrue(e.getMessage().contains("frequency_penalty"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1, -5, 1, 0, 1, 0, 0, null));
        assertTrue(e.getMessage().contains("top_k"), e.getMessage());
    }
}
