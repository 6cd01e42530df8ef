package dev.llmplatform.engine.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.llmplatform.engine.arch.Architectures;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.manifest.Backend;
import dev.llmplatform.engine.model.SafetensorsFile;
import dev.llmplatform.engine.model.Tensor;
import dev.llmplatform.engine.quant.EngineBuilder;
import dev.llmplatform.engine.quant.QuantMethod;
import dev.llmplatform.engine.testing.SharedFixtures;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every hf-tiny fixture (all have 4 heads, so TP=2 and TP=4 fit: MQA's single KV head and GQA's two are replicated
 * at 4) split over ranks against the same checkpoint whole: logits of the whole prompt and of token-by-token decoding
 * within 1e-4, and transformers' greedy continuation reproduced.
 */
class TensorParallelFixturesTest {

    @ParameterizedTest(name = "{0} at TP={1}")
    @CsvSource({"llama, 2", "llama, 4", "mistral, 2", "mistral, 4", "qwen2, 2", "qwen2, 4", "gpt2, 2", "gpt2, 4",
            "gptj, 2", "gptj, 4", "falcon, 2", "falcon, 4", "mpt, 2", "mpt, 4", "bloom, 2", "bloom, 4"})
    void shardedModelReproducesTheWholeOne(String arch, int tp) throws Exception {
        Path dir = SharedFixtures.hfTiny(arch);
        int[] prompt;
        int[] reference;
        try (Arena arena = Arena.ofConfined()) {
            var ref = SafetensorsFile.open(dir.resolve("reference.safetensors"), arena).tensors();
            prompt = ints(ref.get("input_ids"));
            reference = ints(ref.get("greedy_ids"));
        }
        try (WorkerPool pool = new WorkerPool(1); DecoderModel whole = Architectures.load(dir, pool);
             TensorParallelModel split = TensorParallel.shard(Architectures.load(dir, pool), tp, 2)) {
            TpRuns.assertClose(arch + " prompt logits", TpRuns.promptLogits(whole, prompt), TpRuns.promptLogits(split, prompt));
            TpRuns.assertClose(arch + " decode logits", TpRuns.stepwiseLogits(whole, prompt), TpRuns.stepwiseLogits(split, prompt));
            assertArrayEquals(reference, TpRuns.greedy(split, prompt, reference.length), arch + " greedy ids at TP=" + tp);
        }
    }

    /** Rank files hold every family's pieces: fused QKV regathered, Conv1D (input-major) matrices, biases, LM head bias. */
    @ParameterizedTest(name = "{0} built with --tp 2")
    @CsvSource({"llama", "qwen2", "gpt2", "gptj", "falcon", "mpt", "bloom"})
    void aBuiltSplitEngineComputesWhatTheCheckpointDoes(String arch, @TempDir Path tmp) throws Exception {
        Path dir = SharedFixtures.hfTiny(arch);
        Path out = tmp.resolve(arch + "-tp2");
        EngineBuilder.build(new EngineBuilder.Options(dir, Backend.CPU, QuantMethod.NONE, 0, null, out, 2));
        int[] prompt;
        try (Arena arena = Arena.ofConfined()) {
            prompt = ints(SafetensorsFile.open(dir.resolve("reference.safetensors"), arena).tensors().get("input_ids"));
        }
        try (WorkerPool pool = new WorkerPool(1); DecoderModel whole = Architectures.load(dir, pool);
             TensorParallelModel built = TensorParallel.loadBuilt(out, 2)) {
            TpRuns.assertClose(arch + " built --tp 2", TpRuns.promptLogits(whole, prompt), TpRuns.promptLogits(built, prompt));
        }
    }

    static int[] ints(Tensor t) {
        long[] a = t.toLongArray();
        int[] out = new int[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = Math.toIntExact(a[i]);
        }
        return out;
    }
}
