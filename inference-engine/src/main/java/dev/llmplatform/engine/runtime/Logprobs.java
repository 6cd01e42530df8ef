package dev.llmplatform.engine.runtime;

import java.util.ArrayList;
import java.util.List;

/** Log-probabilities of the model's distribution (raw logits, before sampling adjustments), as OpenAI reports them. */
final class Logprobs {
    private final int vocab;
    private final int[] best = new int[GenerationRequest.MAX_TOP_LOGPROBS];

    Logprobs(int vocab) {
        this.vocab = vocab;
    }

    GenerationEvent.Logprob of(float[] logits, int chosen, int top) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, logits[i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            sum += Math.exp(logits[i] - max);
        }
        float logZ = (float) (max + Math.log(sum));
        List<GenerationEvent.TopLogprob> alternatives = new ArrayList<>(top);
        // Selection of the top entries: top is at most 20, so a few passes over the row are cheaper than sorting it.
        int n = 0;
        for (int i = 0; i < vocab; i++) {
            if (n < top) {
                best[n++] = i;
                for (int j = n - 1; j > 0 && better(logits, best[j], best[j - 1]); j--) {
                    swap(j);
                }
            } else if (top > 0 && better(logits, i, best[top - 1])) {
                best[top - 1] = i;
                for (int j = top - 1; j > 0 && better(logits, best[j], best[j - 1]); j--) {
                    swap(j);
                }
            }
        }
        for (int i = 0; i < n; i++) {
            alternatives.add(new GenerationEvent.TopLogprob(best[i], logits[best[i]] - logZ));
        }
        return new GenerationEvent.Logprob(chosen, logits[chosen] - logZ, alternatives);
    }

    private static boolean better(float[] l, int a, int b) {
        return l[a] > l[b] || (l[a] == l[b] && a < b);
    }

    private void swap(int j) {
        int t = best[j];
        best[j] = best[j - 1];
        best[j - 1] = t;
    }
}
