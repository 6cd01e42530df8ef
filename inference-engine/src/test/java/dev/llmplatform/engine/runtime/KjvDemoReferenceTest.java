package dev.llmplatform.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.llmplatform.engine.Engine;
import dev.llmplatform.engine.testing.SharedFixtures;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The bundled kjv-demo model reproduces transformers' six greedy continuations (32 tokens each, computed in float32
 * from the bf16 weights): the prompt text encodes to the reference ids (BOS first), the continuation ids match,
 * and so does their decoded text.
 */
class KjvDemoReferenceTest {
    private static Engine engine;

    @BeforeAll
    static void load() {
        engine = Engine.load(SharedFixtures.bundledKjvDemo(), 2);
    }

    @AfterAll
    static void close() throws Exception {
        engine.close();
    }

    static Stream<Arguments> generations() throws Exception {
        JsonNode ref = JsonMapper.builder().build().readTree(
                Files.readString(SharedFixtures.kjvDemo().resolve("reference.json")));
        List<Arguments> out = new ArrayList<>();
        for (JsonNode g : ref.get("generations")) {
            out.add(Arguments.of(g.get("prompt").asString(), ids(g.get("prompt_ids")), ids(g.get("greedy_ids")),
                    g.get("greedy_text").asString()));
        }
        assertEquals(6, out.size());
        return out.stream();
    }

    private static int[] ids(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asInt();
        }
        return out;
    }

    @ParameterizedTest
    @MethodSource("generations")
    void greedyContinuationMatchesTransformers(String prompt, int[] promptIds, int[] greedyIds, String greedyText) {
        assertArrayEquals(promptIds, engine.encodePrompt(prompt, Engine.BosPolicy.AUTO), "prompt ids of \"" + prompt + "\"");
        Generator.Result r = engine.generator().generate(promptIds, greedyIds.length, SamplingParams.GREEDY,
                engine.stopIds(), id -> true);
        assertArrayEquals(greedyIds, r.outputIds(), "greedy ids after \"" + prompt + "\"");
        assertEquals(FinishReason.LENGTH, r.finishReason());
        assertEquals(greedyText, engine.requireTokenizer().decode(r.outputIds(), true));
    }
}
