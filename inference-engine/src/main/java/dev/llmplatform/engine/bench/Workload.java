package dev.llmplatform.engine.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A reproducible serving workload: requests with prompt and output lengths drawn log-uniformly from wide ranges
 * (so a few long requests sit among many short ones, as in real traffic), and arrival offsets from a Poisson
 * process at {@code rate} requests/s (or all at once when the rate is infinite: a closed loop then limits them by
 * concurrency).
 */
public record Workload(List<Spec> requests) {

    /**
     * @param arrivalSeconds when to send it, from the start of the run
     * @param promptIds      random token ids
     * @param outputTokens   exactly this many tokens are generated (end-of-sequence ignored)
     */
    public record Spec(double arrivalSeconds, int[] promptIds, int outputTokens) {
    }

    public static Workload generate(long seed, int count, int vocab, int promptMin, int promptMax, int outputMin,
                                    int outputMax, double rate) {
        if (count < 1 || promptMin < 1 || promptMax < promptMin || outputMin < 1 || outputMax < outputMin) {
            throw new IllegalArgumentException("workload needs count >= 1 and 1 <= min <= max for prompt and output lengths");
        }
        SplittableRandom r = new SplittableRandom(seed);
        List<Spec> out = new ArrayList<>(count);
        double t = 0;
        for (int i = 0; i < count; i++) {
            int p = logUniform(r, promptMin, promptMax);
            int[] ids = new int[p];
            for (int j = 0; j < p; j++) {
                ids[j] = r.nextInt(vocab);
            }
            out.add(new Spec(t, ids, logUniform(r, outputMin, outputMax)));
            if (Double.isFinite(rate)) {
                t += -Math.log(1 - r.nextDouble()) / rate;
            }
        }
        return new Workload(List.copyOf(out));
    }

    private static int logUniform(SplittableRandom r, int min, int max) {
        double v = Math.exp(Math.log(min) + r.nextDouble() * (Math.log(max + 1.0) - Math.log(min)));
        return Math.min(max, Math.max(min, (int) v));
    }

    public long totalOutputTokens() {
        return requests.stream().mapToLong(Spec::outputTokens).sum();
    }
}
