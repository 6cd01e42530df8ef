package dev.llmplatform.engine.arch;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.cpu.WorkerPool;
import java.nio.file.Path;

/**
 * Runs a checkpoint over a prompt for tests, and compares logits.
 *
 * <p>Two runs of the same model in one JVM may differ in the last bits (up to ~1e-6 here): the Vector API's lane
 * reductions sum in a different order once C2 compiles them than in the interpreter. So "the same model" is
 * checked as identical weights plus logits within {@link #SAME_MODEL}, never as bit-identical logits.
 */
final class ModelRuns {
    static final double SAME_MODEL = 1e-5;

    private ModelRuns() {
    }

    /** The prompt transformers' reference outputs were computed for ({@code input_ids} of reference.safetensors). */
    static int[] referencePrompt(Path fixtureDir) {
        try (ReferenceFiles.Tensors ref = ReferenceFiles.open(fixtureDir.resolve("reference.safetensors"))) {
            long[] ids = ref.tensors().get("input_ids").toLongArray();
            int[] out = new int[ids.length];
            for (int i = 0; i < ids.length; i++) {
                out[i] = Math.toIntExact(ids[i]);
            }
            return out;
        }
    }

    /** Loads {@code dir} and returns the logits of every prompt position, whole prompt in one batch. */
    static float[] promptLogits(Path dir, WorkerPool pool, int[] prompt) throws Exception {
        try (DecoderModel model = Architectures.load(dir, pool)) {
            return promptLogits(model, prompt);
        }
    }

    static float[] promptLogits(DecoderModel model, int[] prompt) {
        float[] logits = new float[prompt.length * model.vocabSize()];
        model.forward(new Batch(prompt.length).addSequence(prompt, 0, prompt.length, 0, model.newCache(), true), logits);
        return logits;
    }

    /** The same logits, one token per forward pass through the KV cache. */
    static float[] stepwiseLogits(DecoderModel model, int[] prompt) {
        int vocab = model.vocabSize();
        KvCache cache = model.newCache();
        float[] all = new float[prompt.length * vocab];
        float[] step = new float[vocab];
        Batch batch = new Batch(1);
        for (int i = 0; i < prompt.length; i++) {
            model.forward(batch.clear().add(prompt[i], i, cache, true), step);
            System.arraycopy(step, 0, all, i * vocab, vocab);
        }
        return all;
    }

    static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("lengths differ: " + a.length + " vs " + b.length);
        }
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            double d = Math.abs((double) a[i] - b[i]);
            if (!(d <= max)) {
                max = d; // NaN sticks
            }
        }
        return max;
    }

    static void assertClose(String what, float[] expected, float[] actual, double tolerance) {
        double d = maxAbsDiff(expected, actual);
        assertTrue(d <= tolerance, what + ": max |logit difference| " + d + " > " + tolerance);
    }
}
