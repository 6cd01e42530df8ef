package dev.llmplatform.engine.runtime;

import java.util.SplittableRandom;

/**
 * Picks one sequence's next tokens from logits, in the order transformers and vLLM apply the steps: logit bias
 * (OpenAI's {@code logit_bias}, added to the raw logits), penalties
 * (repetition over prompt and output; presence and frequency over the output), then greedy argmax, or temperature,
 * top-k, top-p and min-p filtering and a draw from the remaining distribution with the sequence's own seeded
 * random generator. Holds the sequence's token counts; all buffers are sized to the vocabulary once, so sampling
 * allocates nothing.
 */
public final class Sampler {
    private final SamplingParams params;
    private final int vocab;
    private final SplittableRandom random;
    private final int[] outputCounts;   // occurrences of each id in the output
    private final boolean[] seen;       // ids in the prompt or the output
    private final int[] candidates;     // ids that survive filtering, most likely first
    private final float[] probs;        // probability of each id (indexed by id)
    private final int[] biasIds;        // logit_bias, as parallel arrays (ids inside the vocabulary)
    private final float[] biasValues;

    public Sampler(SamplingParams params, int vocab, int[] prompt) {
        this.params = params;
        this.vocab = vocab;
        this.random = params.seed() == null ? new SplittableRandom() : new SplittableRandom(params.seed());
        this.outputCounts = new int[vocab];
        this.seen = new boolean[vocab];
        this.candidates = new int[vocab];
        this.probs = new float[vocab];
        for (int id : prompt) {
            if (id >= 0 && id < vocab) {
                seen[id] = true;
            }
        }
        this.biasIds = new int[params.logitBias().size()];
        this.biasValues = new float[biasIds.length];
        int n = 0;
        for (var e : params.logitBias().entrySet()) {
            if (e.getKey() >= vocab) {
                throw new IllegalArgumentException("logit_bias names token id " + e.getKey()
                        + ", outside the vocabulary (ids 0.." + (vocab - 1) + ")");
            }
            biasIds[n] = e.getKey();
            biasValues[n++] = e.getValue();
        }
    }

    public SamplingParams params() {
        return params;
    }

    /** Records a generated token (for the penalties). */
    public void accept(int id) {
        outputCounts[id]++;
        seen[id] = true;
    }

    /** Chooses the next token from {@code logits[off .. off + vocab)}; the logits are modified in place. */
    public int sample(float[] logits, int off) {
        for (int i = 0; i < biasIds.length; i++) {
            logits[off + biasIds[i]] += biasValues[i];
        }
        applyPenalties(logits, off);
        if (params.greedy()) {
            return argmax(logits, off, vocab);
        }
        float invT = (float) (1.0 / params.temperature());
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, logits[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            float p = (float) Math.exp((logits[off + i] - max) * invT);
            probs[i] = p;
            sum += p;
        }
        float inv = (float) (1.0 / sum);
        for (int i = 0; i < vocab; i++) {
            probs[i] *= inv;
        }
        int n = filter();
        double total = 0;
        for (int i = 0; i < n; i++) {
            total += probs[candidates[i]];
        }
        double r = random.nextDouble() * total;
        double acc = 0;
        for (int i = 0; i < n; i++) {
            acc += probs[candidates[i]];
            if (r < acc) {
                return candidates[i];
            }
        }
        return candidates[n - 1];
    }

    private void applyPenalties(float[] logits, int off) {
        double rep = params.repetitionPenalty();
        double pres = params.presencePenalty();
        double freq = params.frequencyPenalty();
        if (rep == 1 && pres == 0 && freq == 0) {
            return;
        }
        for (int i = 0; i < vocab; i++) {
            if (!seen[i]) {
                continue;
            }
            float l = logits[off + i];
            if (rep != 1) {
                l = l > 0 ? (float) (l / rep) : (float) (l * rep);
            }
            int c = outputCounts[i];
            if (c > 0) {
                l -= (float) (freq * c + pres);
            }
            logits[off + i] = l;
        }
    }

    /**
     * Leaves in {@code candidates[0..n)} the ids that pass top-k, top-p and min-p, sorted most likely first.
     * Only ids that could pass are sorted: with top-p, an id below (1 - p) / (vocab - 1) never can (the ids above
     * it already reach p), which usually leaves a few hundred to sort instead of the whole vocabulary.
     */
    private int filter() {
        double topP = params.topP();
        int topK = params.topK() > 0 ? Math.min(params.topK(), vocab) : vocab;
        float pMax = 0;
        for (int i = 0; i < vocab; i++) {
            pMax = Math.max(pMax, probs[i]);
        }
        float cutoff = (float) (params.minP() * pMax);
        if (topP < 1) {
            cutoff = Math.max(cutoff, (float) ((1 - topP) / (vocab - 1)));
        }
        int n = 0;
        for (int i = 0; i < vocab; i++) {
            if (probs[i] >= cutoff) {
                candidates[n++] = i;
            }
        }
        if (n == 0) {
            candidates[n++] = argmax(probs, 0, vocab);
        }
        if (topK >= n && topP >= 1) {
            return n; // min-p alone: order does not matter
        }
        sortByProbability(0, n - 1);
        n = Math.min(n, topK);
        if (topP < 1) {
            double acc = 0;
            for (int i = 0; i < n; i++) {
                acc += probs[candidates[i]];
                if (acc >= topP) {
                    return i + 1;
                }
            }
        }
        return n;
    }

    /** Quicksort of candidates[lo..hi] by descending probability, ties by id, without boxing. */
    private void sortByProbability(int lo, int hi) {
        while (lo < hi) {
            int i = lo;
            int j = hi;
            int pivot = candidates[(lo + hi) >>> 1];
            while (i <= j) {
                while (before(candidates[i], pivot)) {
                    i++;
                }
                while (before(pivot, candidates[j])) {
                    j--;
                }
                if (i <= j) {
                    int t = candidates[i];
                    candidates[i] = candidates[j];
                    candidates[j] = t;
                    i++;
                    j--;
                }
            }
            if (j - lo < hi - i) {
                sortByProbability(lo, j);
                lo = i;
            } else {
                sortByProbability(i, hi);
                hi = j;
            }
        }
    }

    private boolean before(int a, int b) {
        return probs[a] > probs[b] || (probs[a] == probs[b] && a < b);
    }

    public static int argmax(float[] a, int off, int n) {
        int best = 0;
        float bv = a[off];
        for (int i = 1; i < n; i++) {
            if (a[off + i] > bv) {
                bv = a[off + i];
                best = i;
            }
        }
        return best;
    }
}
