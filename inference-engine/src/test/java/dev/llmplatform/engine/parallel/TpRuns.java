package dev.llmplatform.engine.parallel;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.llmplatform.engine.arch.Batch;
import dev.llmplatform.engine.arch.ModelRunner;
import dev.llmplatform.engine.cpu.KvBlockPool;
import dev.llmplatform.engine.cpu.KvCache;
import java.util.Arrays;

/** Runs any {@link ModelRunner} (whole or tensor-parallel) over a prompt for the tests, and compares logits. */
final class TpRuns {
    /** What the issue asks of TP=N against TP=1: logits within 1e-4 (they differ in summation order only). */
    static final double TOLERANCE = 1e-4;

    private TpRuns() {
    }

    static KvCache cache(ModelRunner m) {
        KvBlockPool pool = m.newKvPool(16, (m.contextLength() + 15) / 16);
        return m.newCache(pool);
    }

    /** Logits of every prompt position, the prompt in one batch. */
    static float[] promptLogits(ModelRunner m, int[] prompt) {
        float[] logits = new float[prompt.length * m.vocabSize()];
        m.forward(new Batch(prompt.length).addSequence(prompt, 0, prompt.length, 0, cache(m), true), logits);
        return logits;
    }

    /** The same, one token per forward pass through the KV cache (the decode path). */
    static float[] stepwiseLogits(ModelRunner m, int[] prompt) {
        int vocab = m.vocabSize();
        KvCache cache = cache(m);
        float[] all = new float[prompt.length * vocab];
        float[] step = new float[vocab];
        Batch batch = new Batch(1);
        for (int i = 0; i < prompt.length; i++) {
            m.forward(batch.clear().add(prompt[i], i, cache, true), step);
            System.arraycopy(step, 0, all, i * vocab, vocab);
        }
        return all;
    }

    /** Greedy continuation of {@code n} tokens through the runner's greedy path. */
    static int[] greedy(ModelRunner m, int[] prompt, int n) {
        KvCache cache = cache(m);
        int[] next = new int[1];
        int[] out = new int[n];
        Batch batch = new Batch(prompt.length);
        if (!m.forwardGreedy(batch.clear().addSequence(prompt, 0, prompt.length, 0, cache, false), next)) {
            throw new IllegalStateException(m.name() + " has no greedy path");
        }
        for (int i = 0; i < n; i++) {
            out[i] = next[0];
            if (i + 1 < n) {
                m.forwardGreedy(batch.clear().add(next[0], prompt.length + i, cache, true), next);
            }
        }
        return out;
    }

    static void assertClose(String what, float[] expected, float[] actual) {
        assertTrue(expected.length == actual.length, what + ": lengths differ");
        double max = 0;
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs((double) expected[i] - actual[i]);
            if (!(d <= max)) {
                max = d; // NaN sticks
            }
        }
        assertTrue(max <= TOLERANCE, what + ": max |logit difference| " + max + " > " + TOLERANCE);
    }

    static String ids(int[] a) {
        return Arrays.toString(a);
    }
}
