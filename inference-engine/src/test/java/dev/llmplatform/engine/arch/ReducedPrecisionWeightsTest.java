package dev.llmplatform.engine.arch;

import static dev.llmplatform.engine.arch.ModelRuns.assertClose;
import static dev.llmplatform.engine.arch.ModelRuns.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.llmplatform.engine.cpu.WeightMatrix;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.DType;
import dev.llmplatform.engine.model.TestCheckpoints;
import dev.llmplatform.engine.model.TestCheckpoints.HostTensor;
import dev.llmplatform.engine.testing.SharedFixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * bf16 and f16 weights, read in place by the packed kernels, against an f32 checkpoint holding the very same
 * (rounded) values: the logits may differ only by float32 summation order. The hf-tiny llama exercises the
 * row-major (nn.Linear) kernels, gpt2 the input-major (Conv1D) ones; a random llama of width 72 and MLP width 200
 * leaves vector tails in every product and holds f16 subnormals in matrices whose output is normalised, so a
 * kernel that mishandles them changes the logits at O(1).
 */
class ReducedPrecisionWeightsTest {
    private static final double TOLERANCE = 1e-5;
    private static WorkerPool pool;

    @BeforeAll
    static void startPool() {
        pool = new WorkerPool(2);
    }

    @AfterAll
    static void stopPool() {
        pool.close();
    }

    @ParameterizedTest
    @CsvSource({"llama, BF16", "llama, F16", "gpt2, BF16", "gpt2, F16"})
    void fixtureInHalfPrecisionMatchesRoundedF32(String arch, DType dtype, @TempDir Path tmp) throws Exception {
        Path fixture = SharedFixtures.hfTiny(arch);
        int[] prompt = ModelRuns.referencePrompt(fixture);
        Map<String, HostTensor> tensors = TestCheckpoints.readTensors(fixture.resolve("model.safetensors"));
        Path half = TestCheckpoints.writeCheckpoint(tmp.resolve(arch + "-" + dtype), fixture, tensors, dtype);
        Path rounded = TestCheckpoints.writeCheckpoint(tmp.resolve(arch + "-f32"), fixture,
                TestCheckpoints.rounded(tensors, dtype), DType.F32);

        float[] expected = ModelRuns.promptLogits(rounded, pool, prompt);
        try (DecoderModel model = Architectures.load(half, pool)) {
            WeightMatrix probe = arch.equals("gpt2") ? model.weights().layers()[0].fused().w() : model.weights().layers()[0].wUp();
            assertEquals(dtype, probe.dtype(), "the converted checkpoint is read in place as " + dtype);
            assertEquals(arch.equals("gpt2"), probe.inputMajor(), "gpt2 takes the Conv1D (input-major) kernels");
            assertClose(arch + " " + dtype + " whole prompt", expected, ModelRuns.promptLogits(model, prompt), TOLERANCE);
            assertClose(arch + " " + dtype + " token by token", expected, ModelRuns.stepwiseLogits(model, prompt), TOLERANCE);
        }
        // Guards against a vacuous pass: the rounding must have changed the model measurably.
        float[] original = ModelRuns.promptLogits(fixture, pool, prompt);
        assertTrue(maxAbsDiff(original, expected) > 10 * TOLERANCE, "rounding to " + dtype + " left the logits unchanged");
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void oddWidthsAndSubnormalsMatchRoundedF32(DType dtype, @TempDir Path tmp) throws Exception {
        Map<String, HostTensor> tensors = randomLlama(20240607L);
        if (dtype == DType.F16) {
            int subnormal = f16Subnormals(tensors.get("model.layers.0.self_attn.o_proj.weight"))
                    + f16Subnormals(tensors.get("model.layers.0.mlp.down_proj.weight"));
            assertTrue(subnormal > 10_000, "only " + subnormal + " f16 subnormals in the matrices meant to hold them");
        }
        Path half = writeRandomLlama(tmp.resolve("half"), tensors, dtype);
        Path rounded = writeRandomLlama(tmp.resolve("f32"), TestCheckpoints.rounded(tensors, dtype), DType.F32);
        int[] prompt = {3, 17, 99, 0, 42, 42, 7, 63, 81, 5, 28}; // 2 tiles of 4 tokens and a tail of 3

        try (DecoderModel f32 = Architectures.load(rounded, pool); DecoderModel model = Architectures.load(half, pool)) {
            assertEquals(dtype, model.weights().layers()[0].wDown().dtype());
            float[] expected = ModelRuns.promptLogits(f32, prompt);
            float[] whole = ModelRuns.promptLogits(model, prompt);
            assertClose(dtype + " whole prompt vs rounded f32", expected, whole, TOLERANCE);
            assertClose(dtype + " token by token vs whole prompt", whole, ModelRuns.stepwiseLogits(model, prompt), TOLERANCE);
            assertClose("rounded f32 token by token vs whole prompt", expected, ModelRuns.stepwiseLogits(f32, prompt), TOLERANCE);
            assertTrue(maxAbsDiff(expected, new float[expected.length]) > 0.1, "logits are O(1), not all near zero");
        }
        if (dtype == DType.F16) {
            // A matmul kernel that flushed f16 subnormals to zero would see these weights instead (the embedding
            // is read elsewhere); they must change the logits far beyond the tolerance, or the comparison above
            // would not test subnormals at all.
            Map<String, HostTensor> flushed = new LinkedHashMap<>();
            TestCheckpoints.rounded(tensors, dtype).forEach((name, t) ->
                    flushed.put(name, name.equals("model.embed_tokens.weight") ? t : flushSubnormalF16(t)));
            Path withoutTiny = writeRandomLlama(tmp.resolve("flushed"), flushed, DType.F32);
            double d = maxAbsDiff(ModelRuns.promptLogits(rounded, pool, prompt), ModelRuns.promptLogits(withoutTiny, pool, prompt));
            assertTrue(d > 0.1, "flushing the f16 subnormals changes the logits by only " + d);
        }
    }

    private static final String RANDOM_LLAMA_CONFIG = """
            {
              "architectures": ["LlamaForCausalLM"],
              "model_type": "llama",
              "hidden_size": 72,
              "intermediate_size": 200,
              "num_attention_heads": 3,
              "num_key_value_heads": 1,
              "head_dim": 24,
              "num_hidden_layers": 2,
              "vocab_size": 100,
              "max_position_embeddings": 64,
              "rms_norm_eps": 1e-12,
              "hidden_act": "silu",
              "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},
              "tie_word_embeddings": false
            }
            """;

    private static Path writeRandomLlama(Path dir, Map<String, HostTensor> tensors, DType dtype) throws Exception {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), RANDOM_LLAMA_CONFIG);
        TestCheckpoints.writeSafetensors(dir.resolve("model.safetensors"), tensors, dtype);
        return dir;
    }

    /**
     * Random llama weights. The embedding and layer 0's o_proj and down_proj are ~3e-5 (f16 subnormals lie below
     * 6.1e-5), so the residual stream after layer 0 is made of them alone; layer 1's RMSNorm (eps 1e-12) scales it
     * back to O(1). Everything else is ~0.1.
     */
    static Map<String, HostTensor> randomLlama(long seed) {
        Random rnd = new Random(seed);
        Map<String, HostTensor> t = new LinkedHashMap<>();
        int h = 72;
        int ffn = 200;
        int kv = 24;
        int vocab = 100;
        t.put("model.embed_tokens.weight", gaussian(rnd, 3e-5, vocab, h));
        for (int l = 0; l < 2; l++) {
            String p = "model.layers." + l + ".";
            double tiny = l == 0 ? 3e-5 : 0.1;
            t.put(p + "input_layernorm.weight", norm(rnd, h));
            t.put(p + "self_attn.q_proj.weight", gaussian(rnd, 0.1, h, h));
            t.put(p + "self_attn.k_proj.weight", gaussian(rnd, 0.1, kv, h));
            t.put(p + "self_attn.v_proj.weight", gaussian(rnd, 0.1, kv, h));
            t.put(p + "self_attn.o_proj.weight", gaussian(rnd, tiny, h, h));
            t.put(p + "post_attention_layernorm.weight", norm(rnd, h));
            t.put(p + "mlp.gate_proj.weight", gaussian(rnd, 0.1, ffn, h));
            t.put(p + "mlp.up_proj.weight", gaussian(rnd, 0.1, ffn, h));
            t.put(p + "mlp.down_proj.weight", gaussian(rnd, tiny, h, ffn));
        }
        t.put("model.norm.weight", norm(rnd, h));
        t.put("lm_head.weight", gaussian(rnd, 0.1, vocab, h));
        return t;
    }

    private static HostTensor gaussian(Random rnd, double std, int rows, int cols) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rnd.nextGaussian() * std);
        }
        return new HostTensor(new long[] {rows, cols}, v);
    }

    private static HostTensor norm(Random rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (1 + 0.1 * rnd.nextGaussian());
        }
        return new HostTensor(new long[] {n}, v);
    }

    /** {@code t} with the values that are subnormal in f16 (below 2^-14 in magnitude) set to zero. */
    private static HostTensor flushSubnormalF16(HostTensor t) {
        float[] v = t.values().clone();
        for (int i = 0; i < v.length; i++) {
            if (Math.abs(v[i]) < 0x1p-14f) {
                v[i] = 0f;
            }
        }
        return new HostTensor(t.shape(), v);
    }

    private static int f16Subnormals(HostTensor t) {
        int n = 0;
        for (float v : t.values()) {
            short bits = Float.floatToFloat16(v);
            if ((bits & 0x7C00) == 0 && (bits & 0x03FF) != 0) {
                n++;
            }
        }
        return n;
    }
}
