package dev.llmplatform.engine.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.llmplatform.engine.Engine;
import dev.llmplatform.engine.arch.ModelRunner;
import dev.llmplatform.engine.manifest.Backend;
import dev.llmplatform.engine.manifest.EngineManifest;
import dev.llmplatform.engine.manifest.ManifestJson;
import dev.llmplatform.engine.quant.EngineBuilder;
import dev.llmplatform.engine.quant.QuantMethod;
import dev.llmplatform.engine.runtime.EngineRuntime;
import dev.llmplatform.engine.runtime.GenerationEvent;
import dev.llmplatform.engine.runtime.GenerationRequest;
import dev.llmplatform.engine.runtime.RuntimeConfig;
import dev.llmplatform.engine.runtime.SamplingParams;
import dev.llmplatform.engine.runtime.StopConditions;
import dev.llmplatform.engine.testing.SharedFixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * kjv-demo (8 heads, 4 KV heads, a real tokenizer) split over ranks through {@link Engine}: against the whole model,
 * through the unchanged runtime, as a built {@code --tp 2} engine, quantized, and the sizes that must be refused.
 */
class TensorParallelEngineTest {
    private static final Path KJV = SharedFixtures.bundledKjvDemo();
    private static final int[] PROMPT = {4091, 71, 7, 155, 19, 302, 226, 50, 412, 9, 5, 11, 27, 300, 18, 90, 4, 600};

    @ParameterizedTest(name = "TP={0}")
    @ValueSource(ints = {2, 4})
    void kjvDemoSplitReproducesTheWholeModel(int tp) throws Exception {
        try (Engine whole = Engine.load(KJV, 2); Engine split = Engine.load(KJV, 2, tp)) {
            assertEquals(tp, split.tensorParallelSize());
            ModelRunner a = whole.runner();
            ModelRunner b = split.runner();
            TpRuns.assertClose("kjv-demo prompt logits", TpRuns.promptLogits(a, PROMPT), TpRuns.promptLogits(b, PROMPT));
            assertArrayEquals(TpRuns.greedy(a, PROMPT, 24), TpRuns.greedy(b, PROMPT, 24), "greedy ids at TP=" + tp);
            // Each rank reads its share of the weights per step, and holds the KV heads of its share only.
            assertTrue(split.weightBytesPerTokenPerRank() < whole.weightBytesPerToken() / tp * 1.2,
                    split.weightBytesPerTokenPerRank() + " bytes per rank vs " + whole.weightBytesPerToken() + " whole");
            assertEquals(whole.kvBytesPerPosition(), split.kvBytesPerPosition(), "4 KV heads split, not replicated");
        }
    }

    @Test
    void theRuntimeServesTheSplitModelUnchanged() throws Exception {
        try (Engine whole = Engine.load(KJV, 2); Engine split = Engine.load(KJV, 2, 2)) {
            String prompt = "And the LORD said unto Moses,";
            assertEquals(generate(whole, prompt), generate(split, prompt));
        }
    }

    /** Three greedy requests at once (batched decoding, shared KV pool, prefix cache) through the runtime. */
    private static List<String> generate(Engine engine, String prompt) throws Exception {
        try (EngineRuntime runtime = new EngineRuntime(engine.runner(), engine.requireTokenizer(),
                new RuntimeConfig(4, 16, 256, 16, 64, true, RuntimeConfig.Policy.IN_FLIGHT))) {
            List<StringBuilder> texts = new ArrayList<>();
            var handles = new ArrayList<dev.llmplatform.engine.runtime.RequestHandle>();
            for (String p : List.of(prompt, prompt + " and", "In the beginning")) {
                StringBuilder text = new StringBuilder();
                texts.add(text);
                handles.add(runtime.submit(GenerationRequest.of(engine.encodePrompt(p, Engine.BosPolicy.AUTO),
                        SamplingParams.GREEDY, StopConditions.maxTokens(20, Set.of())), event -> {
                            if (event instanceof GenerationEvent.Token t) {
                                text.append(t.tokenId()).append(' ').append(t.text()).append('|');
                            }
                        }));
            }
            for (int i = 0; i < handles.size(); i++) {
                GenerationEvent.Finished f = handles.get(i).completion().get(60, TimeUnit.SECONDS);
                texts.get(i).append(f.reason()).append(f.text());
            }
            List<String> out = texts.stream().map(StringBuilder::toString).toList();
            out.forEach(t -> assertTrue(t.chars().filter(c -> c == '|').count() == 20, t));
            return out;
        }
    }

    @Test
    void aBuiltTp2EngineKeepsOneFilePerRankAndLoadsAtItsSize(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("kjv-tp2");
        EngineManifest m = EngineBuilder.build(new EngineBuilder.Options(KJV, Backend.CPU, QuantMethod.NONE, 0, null, out, 2));
        assertEquals(2, m.tensorParallelSize());
        assertEquals(2, ManifestJson.read(out).tensorParallelSize());
        assertTrue(Files.isRegularFile(out.resolve("rank0-of-2.safetensors")));
        assertTrue(Files.isRegularFile(out.resolve("rank1-of-2.safetensors")));
        assertFalse(Files.exists(out.resolve("model.safetensors")), "a split engine has no whole weight file");
        try (Stream<Path> left = Files.list(tmp)) {
            assertEquals(List.of(out), left.toList(), "the staging directory is removed");
        }
        try (Engine whole = Engine.load(KJV, 2); Engine built = Engine.load(out, 2)) {
            assertEquals(2, built.tensorParallelSize());
            TpRuns.assertClose("built TP=2 engine", TpRuns.promptLogits(whole.runner(), PROMPT),
                    TpRuns.promptLogits(built.runner(), PROMPT));
            assertArrayEquals(TpRuns.greedy(whole.runner(), PROMPT, 16), TpRuns.greedy(built.runner(), PROMPT, 16));
        }
        String wrongSize = assertThrows(IllegalArgumentException.class, () -> Engine.load(out, 2, 4)).getMessage();
        assertTrue(wrongSize.contains("built for tensor-parallel size 2"), wrongSize);
    }

    @Test
    void anInt8EngineSplitsOnItsRows(@TempDir Path tmp) throws Exception {
        Path int8 = tmp.resolve("kjv-int8");
        EngineBuilder.build(new EngineBuilder.Options(KJV, Backend.CPU, QuantMethod.INT8, 0, null, int8));
        try (Engine whole = Engine.load(int8, 2); Engine split = Engine.load(int8, 2, 4)) {
            assertEquals("int8", split.weightFormat());
            TpRuns.assertClose("int8 at TP=4", TpRuns.promptLogits(whole.runner(), PROMPT), TpRuns.promptLogits(split.runner(), PROMPT));
        }
    }

    @Test
    void sizesThatCutAHeadOrAGroupAreRefused(@TempDir Path tmp) throws Exception {
        String heads = assertThrows(IllegalArgumentException.class, () -> Engine.load(KJV, 2, 3)).getMessage();
        assertTrue(heads.contains("tensor-parallel size 3 does not divide the 8 attention heads"), heads);
        // kjv-demo's MLP is 864 wide: at TP=2 the down projection's cut at column 432 is inside a Q8_0 block of 32.
        Path q8 = SharedFixtures.root().resolve("fixtures/gguf/kjv-demo-Q8_0.gguf");
        String block = assertThrows(IllegalArgumentException.class, () -> Engine.load(q8, 2, 2)).getMessage();
        assertTrue(block.contains("mlp.down_proj.weight") && block.contains("column 432")
                && block.contains("inside a block of 32 values (Q8_0)"), block);
        // ... and, built as INT4 with groups of 32, the same cut is inside a group; the build leaves --out untouched.
        Path out = tmp.resolve("int4-tp2");
        String group = assertThrows(IllegalArgumentException.class, () -> EngineBuilder.build(
                new EngineBuilder.Options(KJV, Backend.CPU, QuantMethod.INT4, 32, null, out, 2))).getMessage();
        assertTrue(group.contains("inside a group of 32 values (INT4)"), group);
        assertFalse(Files.exists(out));
    }
}
