package dev.llmplatform.engine.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.ModelConfig;
import dev.llmplatform.engine.model.ModelLoadException;
import dev.llmplatform.engine.model.TestCheckpoints;
import dev.llmplatform.engine.testing.SharedFixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.node.ObjectNode;

/**
 * Rotary settings in the forms config.json takes: transformers 5's {@code rope_parameters} and the older top-level
 * {@code rope_theta} with {@code rope_scaling}; and the scaled inverse frequencies against transformers' formulas,
 * recomputed here in double.
 */
class RopeConfigFormsTest {
    private static WorkerPool pool;

    @BeforeAll
    static void startPool() {
        pool = new WorkerPool(2);
    }

    @AfterAll
    static void stopPool() {
        pool.close();
    }

    @Test
    void olderTopLevelRopeThetaGivesTheFixtureLogits(@TempDir Path tmp) throws Exception {
        Path fixture = SharedFixtures.hfTiny("llama");
        int[] prompt = ModelRuns.referencePrompt(fixture);
        Path old = llamaWithConfig(tmp.resolve("old"), cfg -> {
            cfg.remove("rope_parameters");
            cfg.put("rope_theta", 10000.0);
            cfg.putNull("rope_scaling");
        });
        assertSameModel(fixture, old, prompt, "rope_theta + rope_scaling: null");

        // The theta must be read from either place, not defaulted: a different theta changes the logits, equally.
        Path oldMillion = llamaWithConfig(tmp.resolve("old-1e6"), cfg -> {
            cfg.remove("rope_parameters");
            cfg.put("rope_theta", 1e6);
            cfg.putNull("rope_scaling");
        });
        Path newMillion = llamaWithConfig(tmp.resolve("new-1e6"),
                cfg -> ((ObjectNode) cfg.get("rope_parameters")).put("rope_theta", 1e6));
        assertSameModel(newMillion, oldMillion, prompt, "top-level rope_theta 1e6");
        float[] tenThousand = ModelRuns.promptLogits(fixture, pool, prompt);
        float[] million = ModelRuns.promptLogits(newMillion, pool, prompt);
        assertTrue(ModelRuns.maxAbsDiff(tenThousand, million) > 1e-3, "rope_theta 1e6 left the logits unchanged");
    }

    /** Identical rotary frequencies, and so logits equal up to float summation noise (see {@link ModelRuns}). */
    private static void assertSameModel(Path expectedDir, Path actualDir, int[] prompt, String what) throws Exception {
        try (DecoderModel expected = Architectures.load(expectedDir, pool); DecoderModel actual = Architectures.load(actualDir, pool)) {
            assertArrayEquals(expected.spec().rope().invFreq(), actual.spec().rope().invFreq(), what + ": inverse frequencies");
            assertEquals(expected.spec().rope().scale(), actual.spec().rope().scale(), what + ": cos/sin scale");
            ModelRuns.assertClose(what, ModelRuns.promptLogits(expected, prompt), ModelRuns.promptLogits(actual, prompt),
                    ModelRuns.SAME_MODEL);
        }
    }

    private static final String LLAMA3_SCALING = """
            {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
             "original_max_position_embeddings": 8192}""";

    @Test
    void llama3ScalingMatchesTransformers() throws Exception {
        double[] expected = llama3InvFreq(500000, 64, 32, 1, 4, 8192);
        float[] older = invFreq("{\"rope_theta\": 500000.0, \"rope_scaling\": " + LLAMA3_SCALING + "}", 64);
        assertRelativelyClose(expected, older, "llama3 from rope_scaling");
        String params = LLAMA3_SCALING.replace("{", "{\"rope_theta\": 500000.0, ");
        float[] newer = invFreq("{\"rope_parameters\": " + params + "}", 64);
        assertRelativelyClose(expected, newer, "llama3 from rope_parameters");

        // The three bands of the formula all occur at these settings, so each is checked above.
        double[] plain = defaultInvFreq(500000, 64);
        int kept = 0;
        int divided = 0;
        int smoothed = 0;
        for (int i = 0; i < plain.length; i++) {
            if (expected[i] == plain[i]) {
                kept++;
            } else if (expected[i] == plain[i] / 32) {
                divided++;
            } else {
                smoothed++;
            }
        }
        assertTrue(kept > 0 && divided > 0 && smoothed > 0, kept + " kept, " + divided + " divided, " + smoothed + " smoothed");
    }

    @Test
    void linearScalingDividesTheFrequencies() throws Exception {
        double[] expected = defaultInvFreq(10000, 64);
        for (int i = 0; i < expected.length; i++) {
            expected[i] /= 4;
        }
        assertRelativelyClose(expected, invFreq("{\"rope_theta\": 10000.0, \"rope_scaling\": {\"type\": \"linear\", \"factor\": 4.0}}", 64),
                "linear (older \"type\" key)");
        assertRelativelyClose(expected, invFreq("{\"rope_parameters\": {\"rope_type\": \"linear\", \"rope_theta\": 10000.0, \"factor\": 4.0}}", 64),
                "linear in rope_parameters");
        assertRelativelyClose(defaultInvFreq(10000, 64), invFreq("{\"rope_theta\": 10000.0}", 64), "no scaling");
    }

    @Test
    void linearScalingWithoutFactorFailsNamingIt() throws Exception {
        ModelLoadException e = assertThrows(ModelLoadException.class,
                () -> invFreq("{\"rope_scaling\": {\"type\": \"linear\"}}", 64));
        assertTrue(e.getMessage().contains("\"factor\"") && e.getMessage().contains("config.json"), e.getMessage());
    }

    @Test
    void unknownRopeTypeFailsNamingIt(@TempDir Path tmp) throws Exception {
        Path dir = llamaWithConfig(tmp.resolve("wobbly"), cfg -> ((ObjectNode) cfg.get("rope_parameters")).put("rope_type", "wobbly"));
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> Architectures.load(dir, pool).close());
        assertTrue(e.getMessage().contains("\"wobbly\"") && e.getMessage().contains(dir.resolve("config.json").toString())
                && e.getMessage().contains("llama3"), e.getMessage());
    }

    /** A copy of the hf-tiny llama with its config.json edited by {@code edit}. */
    private static Path llamaWithConfig(Path dir, Consumer<ObjectNode> edit) throws Exception {
        Path fixture = SharedFixtures.hfTiny("llama");
        Files.createDirectories(dir);
        Files.copy(fixture.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        ObjectNode cfg = TestCheckpoints.readJsonObject(fixture.resolve("config.json"));
        edit.accept(cfg);
        TestCheckpoints.writeJson(dir.resolve("config.json"), cfg);
        return dir;
    }

    private static float[] invFreq(String configJson, int headDim) {
        ModelConfig c = new ModelConfig(Path.of("config.json"), TestCheckpoints.JSON.readTree(configJson));
        return RopeConfig.read(c, headDim, false, 0).invFreq();
    }

    /** transformers' _compute_default_rope_parameters: {@code 1 / base^(2i/dim)}. */
    private static double[] defaultInvFreq(double base, int dim) {
        double[] inv = new double[dim / 2];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = 1.0 / Math.pow(base, 2.0 * i / dim);
        }
        return inv;
    }

    /** transformers' _compute_llama3_parameters, step by step. */
    private static double[] llama3InvFreq(double base, int dim, double factor, double lowFreqFactor, double highFreqFactor,
                                          double oldContextLen) {
        double[] inv = defaultInvFreq(base, dim);
        double lowFreqWavelen = oldContextLen / lowFreqFactor;
        double highFreqWavelen = oldContextLen / highFreqFactor;
        double[] out = new double[inv.length];
        for (int i = 0; i < inv.length; i++) {
            double wavelen = 2 * Math.PI / inv[i];
            double invFreqLlama = wavelen > lowFreqWavelen ? inv[i] / factor : inv[i];
            double smoothFactor = (oldContextLen / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
            double smoothedInvFreq = (1 - smoothFactor) * invFreqLlama / factor + smoothFactor * invFreqLlama;
            boolean isMediumFreq = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
            out[i] = isMediumFreq ? smoothedInvFreq : invFreqLlama;
        }
        return out;
    }

    private static void assertRelativelyClose(double[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": number of frequencies");
        for (int i = 0; i < expected.length; i++) {
            double rel = Math.abs(actual[i] - expected[i]) / expected[i];
            assertTrue(rel <= 1e-6, what + ": inv_freq[" + i + "] = " + actual[i] + ", expected " + expected[i]
                    + " (relative error " + rel + ")");
        }
    }
}
