package dev.llmplatform.engine.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.Checkpoint;
import dev.llmplatform.engine.model.Tensor;
import dev.llmplatform.engine.testing.SharedFixtures;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Each architecture against transformers' own outputs for a tiny random checkpoint: logits at every prompt position
 * within 1e-4, whether the prompt goes in at once or token by token through the KV cache, and the same greedy
 * continuation.
 */
class HfTinyReferenceTest {
    private static final double TOLERANCE = 1e-4;
    private static WorkerPool pool;

    @BeforeAll
    static void startPool() {
        pool = new WorkerPool(2);
    }

    @AfterAll
    static void stopPool() {
        pool.close();
    }

    private record Reference(int[] prompt, float[] logits, int[] greedy) {
        static Reference read(Path dir) {
            try (ReferenceFiles.Tensors ref = ReferenceFiles.open(dir.resolve("reference.safetensors"))) {
                Tensor ids = ref.tensors().get("input_ids");
                Tensor logits = ref.tensors().get("logits");
                Tensor greedy = ref.tensors().get("greedy_ids");
                return new Reference(toInts(ids.toLongArray()), logits.toFloatArray(), toInts(greedy.toLongArray()));
            }
        }
    }

    static int[] toInts(long[] a) {
        int[] out = new int[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = Math.toIntExact(a[i]);
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "mistral", "qwen2", "gpt2", "gptj", "falcon", "mpt", "bloom"})
    void wholePromptLogitsMatchTransformers(String arch) throws Exception {
        Path dir = SharedFixtures.hfTiny(arch);
        Reference ref = Reference.read(dir);
        try (DecoderModel model = Architectures.load(dir, pool)) {
            int vocab = model.vocabSize();
            float[] logits = new float[ref.prompt().length * vocab];
            Batch batch = new Batch(16).addSequence(ref.prompt(), 0, ref.prompt().length, 0, model.newCache(), true);
            model.forward(batch, logits);
            assertClose(arch + " (whole prompt)", ref.logits(), logits);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "mistral", "qwen2", "gpt2", "gptj", "falcon", "mpt", "bloom"})
    void tokenByTokenLogitsMatchTransformers(String arch) throws Exception {
        Path dir = SharedFixtures.hfTiny(arch);
        Reference ref = Reference.read(dir);
        try (DecoderModel model = Architectures.load(dir, pool)) {
            int vocab = model.vocabSize();
            KvCache cache = model.newCache();
            float[] all = new float[ref.prompt().length * vocab];
            float[] step = new float[vocab];
            Batch batch = new Batch(1);
            for (int i = 0; i < ref.prompt().length; i++) {
                model.forward(batch.clear().add(ref.prompt()[i], i, cache, true), step);
                System.arraycopy(step, 0, all, i * vocab, vocab);
            }
            assertClose(arch + " (token by token)", ref.logits(), all);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "mistral", "qwen2", "gpt2", "gptj", "falcon", "mpt", "bloom"})
    void greedyContinuationMatchesTransformers(String arch) throws Exception {
        Path dir = SharedFixtures.hfTiny(arch);
        Reference ref = Reference.read(dir);
        try (DecoderModel model = Architectures.load(dir, pool)) {
            int vocab = model.vocabSize();
            KvCache cache = model.newCache();
            float[] logits = new float[vocab];
            Batch batch = new Batch(16).addSequence(ref.prompt(), 0, ref.prompt().length, 0, cache, false);
            int[] out = new int[ref.greedy().length];
            int pos = ref.prompt().length;
            for (int i = 0; i < out.length; i++) {
                model.forward(batch, logits);
                out[i] = argmax(logits);
                batch.clear().add(out[i], pos++, cache, true);
            }
            assertArrayEquals(ref.greedy(), out, arch + " greedy continuation");
        }
    }

    static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) {
            if (a[i] > a[best]) {
                best = i;
            }
        }
        return best;
    }

    static void assertClose(String what, float[] expected, float[] actual) {
        double max = 0;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs(expected[i] - actual[i]);
            if (!(d <= max)) {
                max = d;
                at = i;
            }
        }
        assertTrue(max < TOLERANCE, what + ": max |logit difference| " + max + " at flat index " + at);
    }
}
