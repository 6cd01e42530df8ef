package dev.llmplatform.engine.runtime;

import java.util.SplittableRandom;

/**
 * Picks one sequence's next tokens from logits, in the order transformers and vLLM apply the steps: logit bias
 * (OpenAI's {@code logit_bias}, added to the raw logits), penalties
 * (repetition over prompt and output; presence and frequency over the output), then greedy argmax, or temperature,
 * top-k, min-p and top-p filtering and a draw by {@link SamplingRule}, with one uniform number per token from the
 * sequence's own seeded random generator ({@link #nextRow}). A model runner that samples on its device
 * ({@code ModelRunner.forwardSampled}) applies the same rule to the same {@link SamplingRow}, so a seeded request gives
 * the same tokens on either path. Holds the sequence's token counts; buffers are sized to the vocabulary once.
 */
public final class Sampler {
    private final SamplingParams params;
    private final int vocab;
    private final SplittableRandom random;
    private final int[] outputCounts;   // occurrences of each id in the output
    private final boolean[] seen;       // ids in the prompt or the output
    private final SamplingRule rule = new SamplingRule();
    private final int[] biasIds;        // logit_bias, as parallel arrays (ids inside the vocabulary)
    private final float[] biasValues;

    public Sampler(SamplingParams params, int vocab, int[] prompt) {
        this.params = params;
        this.vocab = vocab;
        this.random = params.seed() == null ? new SplittableRandom() : new SplittableRandom(params.seed());
        this.outputCounts = new int[vocab];
        this.seen = new boolean[vocab];
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

    /**
     * Whether a model runner may pick this sequence's next token from its raw logits with {@link #nextRow}: no logit
     * bias and no penalties (those need the host's counts).
     */
    public boolean deviceSamplable() {
        SamplingParams p = params;
        return p.repetitionPenalty() == 1 && p.presencePenalty() == 0 && p.frequencyPenalty() == 0 && p.logitBias().isEmpty();
    }

    /**
     * This step's row for a runner that samples on its device: draws the step's uniform number (none for greedy),
     * exactly as {@link #sample} would, so the sequence's random stream advances the same way on both paths.
     */
    public SamplingRow nextRow() {
        return params.greedy() ? SamplingRow.GREEDY : SamplingRow.of(params, random.nextDouble());
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
        return rule.select(logits, off, vocab, SamplingRow.of(params, random.nextDouble()));
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

    /** The largest of a[off .. off + n), lowest index on ties, NaN never chosen ({@link SamplingRule#argmax}). */
    public static int argmax(float[] a, int off, int n) {
        return SamplingRule.argmax(a, off, n);
    }
}
