package dev.llmplatform.engine.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.llmplatform.engine.model.SafetensorsFile;
import dev.llmplatform.engine.model.Tensor;
import dev.llmplatform.engine.testing.SharedFixtures;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The command line as users and checks call it: output formats, files written, and one-line errors. */
class EngineCliTest {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    record Output(int status, String out, String err) {
    }

    static synchronized Output run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int status = EngineCli.run(args);
            return new Output(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    private static String kjv() {
        return SharedFixtures.bundledKjvDemo().toString();
    }

    @ParameterizedTest(name = "--tp {0}")
    @ValueSource(strings = {"1", "2"})
    void generateJsonPrintsTheGreedyIdsAndText(String tp) throws Exception {
        JsonNode ref = JSON.readTree(Files.readString(SharedFixtures.kjvDemo().resolve("reference.json"))).get("generations").get(0);
        StringBuilder ids = new StringBuilder();
        ref.get("prompt_ids").forEach(n -> ids.append(ids.isEmpty() ? "" : ",").append(n.asInt()));
        Output o = run("generate", "--model", kjv(), "--prompt-ids", ids.toString(), "--max-tokens", "32", "--json",
                "--threads", "2", "--tp", tp);
        assertEquals(0, o.status(), o.err());
        JsonNode result = JSON.readTree(o.out());
        assertEquals(ref.get("greedy_ids").toString(), result.get("token_ids").toString());
        assertEquals(ref.get("greedy_text").asString(), result.get("text").asString());
    }

    @Test
    void logitsAtTensorParallelSizeTwoMatchTheWholeModelAndABadSizeIsOneLine(@TempDir Path tmp) {
        Output whole = run("logits", "--model", kjv(), "--prompt-ids", "4091,71,7,155", "--out", tmp.resolve("1.safetensors").toString(), "--threads", "2");
        Output split = run("logits", "--model", kjv(), "--prompt-ids", "4091,71,7,155", "--out", tmp.resolve("2.safetensors").toString(), "--threads", "2", "--tp", "2");
        assertEquals(0, whole.status(), whole.err());
        assertEquals(0, split.status(), split.err());
        try (Arena arena = Arena.ofConfined()) {
            float[] a = SafetensorsFile.open(tmp.resolve("1.safetensors"), arena).tensors().get("logits").toFloatArray();
            float[] b = SafetensorsFile.open(tmp.resolve("2.safetensors"), arena).tensors().get("logits").toFloatArray();
            for (int i = 0; i < a.length; i++) {
                assertTrue(Math.abs(a[i] - b[i]) <= 1e-4, "logit " + i + ": " + a[i] + " vs " + b[i]);
            }
        }
        Output bad = run("logits", "--model", kjv(), "--prompt-ids", "1,2", "--out", tmp.resolve("3.safetensors").toString(), "--tp", "3");
        assertEquals(2, bad.status());
        assertEquals("error: tensor-parallel size 3 does not divide the 8 attention heads of kjv-demo: each rank computes "
                + "whole heads (use a size that divides 8)", bad.err().strip());
    }

    @Test
    void generateStreamsTextForATextPrompt() {
        Output o = run("generate", "--model", kjv(), "--prompt", "And the LORD said unto Moses,", "--max-tokens", "12");
        assertEquals(0, o.status(), o.err());
        assertTrue(o.out().startsWith(" Go unto the altar of the LORD"), o.out());
    }

    @Test
    void generateWithAChatTemplateAndSeededSamplingIsReproducible() {
        String[] args = {"generate", "--model", kjv(), "--prompt", "Write a verse.", "--chat", "--max-tokens", "16",
                "--temperature", "0.8", "--top-p", "0.9", "--seed", "7", "--json"};
        Output a = run(args);
        Output b = run(args);
        assertEquals(0, a.status(), a.err());
        assertEquals(a.out(), b.out());
    }

    @Test
    void logitsWritesTheLogitsOfEveryPosition(@TempDir Path tmp) throws Exception {
        Path dir = SharedFixtures.hfTiny("llama");
        try (Arena arena = Arena.ofConfined()) {
            var ref = SafetensorsFile.open(dir.resolve("reference.safetensors"), arena).tensors();
            long[] prompt = ref.get("input_ids").toLongArray();
            StringBuilder ids = new StringBuilder();
            for (long id : prompt) {
                ids.append(ids.isEmpty() ? "" : ",").append(id);
            }
            Path out = tmp.resolve("logits.safetensors");
            Output o = run("logits", "--model", dir.toString(), "--prompt-ids", ids.toString(), "--out", out.toString());
            assertEquals(0, o.status(), o.err());
            Tensor got = SafetensorsFile.open(out, arena).tensors().get("logits");
            Tensor want = ref.get("logits");
            assertEquals(want.shapeString(), got.shapeString());
            float[] g = got.toFloatArray();
            float[] w = want.toFloatArray();
            for (int i = 0; i < w.length; i++) {
                assertTrue(Math.abs(g[i] - w[i]) < 1e-4, "logit " + i + ": " + g[i] + " vs " + w[i]);
            }
        }
    }

    @Test
    void randomCheckpointThenBenchRuns(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("tiny");
        Output w = run("random-checkpoint", "--shape", "llama-tiny", "--dtype", "bf16", "--out", dir.toString());
        assertEquals(0, w.status(), w.err());
        JsonNode config = JSON.readTree(Files.readString(dir.resolve("config.json")));
        assertEquals("llama", config.get("model_type").asString());
        Output b = run("bench", "--model", dir.toString(), "--prompt-len", "8", "--gen-len", "4", "--batch", "2", "--repeat", "1", "--json");
        assertEquals(0, b.status(), b.err());
        JsonNode r = JSON.readTree(b.out());
        assertTrue(r.get("decode_tokens_per_s").asDouble() > 0, b.out());
        assertTrue(r.get("prefill_tokens_per_s").asDouble() > 0, b.out());
    }

    @Test
    void aMissingModelDirectoryIsOneClearLine() {
        Output o = run("generate", "--model", "/no/such/model", "--prompt-ids", "1,2", "--max-tokens", "2");
        assertEquals(2, o.status());
        assertEquals("error: model directory /no/such/model does not exist or is not a directory", o.err().strip());
    }

    @Test
    void tokenIdsOutsideTheVocabularyAreNamed() {
        Output o = run("generate", "--model", kjv(), "--prompt-ids", "1,99999", "--max-tokens", "2");
        assertEquals(2, o.status());
        assertTrue(o.err().contains("99999") && o.err().contains("0..4095"), o.err());
        assertTrue(!o.err().contains("\tat "), "no stack trace: " + o.err());
    }

    @Test
    void aPromptLongerThanTheContextIsRefusedWithBothNumbers() {
        String ids = "1," .repeat(1100) + "1";
        Output o = run("generate", "--model", kjv(), "--prompt-ids", ids, "--max-tokens", "2");
        assertEquals(2, o.status());
        assertTrue(o.err().contains("1101 tokens") && o.err().contains("1024"), o.err());
    }

    @Test
    void malformedPromptIdsAreNamed() {
        Output o = run("generate", "--model", kjv(), "--prompt-ids", "1,two,3");
        assertEquals(2, o.status());
        assertTrue(o.err().contains("'two'"), o.err());
    }

    @Test
    void absurdSamplingParametersAreNamed() {
        Output o = run("generate", "--model", kjv(), "--prompt", "In the beginning", "--temperature", "-3");
        assertEquals(2, o.status());
        assertTrue(o.err().contains("temperature"), o.err());
    }
}
