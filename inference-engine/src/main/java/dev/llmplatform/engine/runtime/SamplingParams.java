package dev.llmplatform.engine.runtime;

import java.util.Map;

/**
 * How the next token is chosen from the logits. Neutral values switch each step off.
 *
 * @param temperature       0 for greedy (argmax); otherwise logits are divided by it, in (0, 100]
 * @param topK              keep the k most likely tokens; 0 (or -1) for all
 * @param topP              keep the smallest set whose probability reaches p, in (0, 1]; 1 for all
 * @param minP              drop tokens less likely than minP times the most likely, in [0, 1]; 0 for none
 * @param repetitionPenalty divides positive (multiplies negative) logits of tokens already in the prompt or
 *                          output, as transformers and vLLM do, in (0, 10]; 1 for none
 * @param presencePenalty   OpenAI's: subtracted once from tokens present in the output, in [-2, 2]
 * @param frequencyPenalty  OpenAI's: subtracted per occurrence in the output, in [-2, 2]
 * @param seed              makes sampling reproducible; null for a random seed
 * @param logitBias         OpenAI's {@code logit_bias}: added to the logits of these token ids before the penalties
 *                          and every other step, each in [-100, 100] (-100 bans a token in practice, 100 all but
 *                          forces it); empty for none. Ids must be inside the model's vocabulary (the runtime
 *                          checks this at submission).
 */
public record SamplingParams(double temperature, int topK, double topP, double minP, double repetitionPenalty,
                             double presencePenalty, double frequencyPenalty, Long seed, Map<Integer, Float> logitBias) {

    public static final SamplingParams GREEDY = new SamplingParams(0, 0, 1, 0, 1, 0, 0, null);

    /** Without logit bias. */
    public SamplingParams(double temperature, int topK, double topP, double minP, double repetitionPenalty,
                          double presencePenalty, double frequencyPenalty, Long seed) {
        this(temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty, seed, Map.of());
    }

    public SamplingParams {
        check(Double.isFinite(temperature) && temperature >= 0 && temperature <= 100, "temperature", temperature, "between 0 and 100");
        check(topK >= -1, "top_k", topK, "-1, 0 (all) or a positive count");
        check(Double.isFinite(topP) && topP > 0 && topP <= 1, "top_p", topP, "in (0, 1]");
        check(Double.isFinite(minP) && minP >= 0 && minP <= 1, "min_p", minP, "in [0, 1]");
        check(Double.isFinite(repetitionPenalty) && repetitionPenalty > 0 && repetitionPenalty <= 10,
                "repetition_penalty", repetitionPenalty, "in (0, 10]");
        check(Double.isFinite(presencePenalty) && Math.abs(presencePenalty) <= 2, "presence_penalty", presencePenalty, "in [-2, 2]");
        check(Double.isFinite(frequencyPenalty) && Math.abs(frequencyPenalty) <= 2, "frequency_penalty", frequencyPenalty, "in [-2, 2]");
        logitBias = logitBias == null ? Map.of() : Map.copyOf(logitBias);
        for (Map.Entry<Integer, Float> e : logitBias.entrySet()) {
            check(e.getKey() >= 0, "logit_bias", "a bias for token id " + e.getKey(), "non-negative token ids");
            float v = e.getValue();
            check(Float.isFinite(v) && Math.abs(v) <= 100, "logit_bias",
                    v + " for token id " + e.getKey(), "values in [-100, 100]");
        }
    }

    private static void check(boolean ok, String name, Object value, String expected) {
        if (!ok) {
            throw new IllegalArgumentException(name + " is " + value + ", expected " + expected);
        }
    }

    /** Argmax of the raw logits: greedy with no penalties or biases, so the model runner may pick the token itself. */
    public boolean plainGreedy() {
        return temperature == 0 && repetitionPenalty == 1 && presencePenalty == 0 && frequencyPenalty == 0 && logitBias.isEmpty();
    }

    public boolean greedy() {
        return temperature == 0;
    }

    public SamplingParams withTemperature(double t) {
        return new SamplingParams(t, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty, seed, logitBias);
    }

    public SamplingParams withSeed(Long s) {
        return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty, s, logitBias);
    }

    public SamplingParams withLogitBias(Map<Integer, Float> bias) {
        return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty, seed, bias);
    }
}
