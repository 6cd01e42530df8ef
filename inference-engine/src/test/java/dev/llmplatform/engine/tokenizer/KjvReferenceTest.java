package dev.llmplatform.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** The kjv-demo model's tokenizer against what transformers 5.17 / tokenizers 0.23 computed (reference.json). */
class KjvReferenceTest {

    private static Tokenizer tokenizer;
    private static JsonNode reference;

    @BeforeAll
    static void load() throws Exception {
        tokenizer = Tokenizer.load(SharedFixtures.kjvDir());
        reference = SharedFixtures.kjvReference();
    }

    @Test
    void encodesAndDecodesEveryReferenceCase() {
        JsonNode cases = reference.get("tokenizer_cases");
        assertEquals(23, cases.size());
        for (JsonNode c : cases) {
            String text = c.get("text").asString();
            int[] ids = SharedFixtures.ints(c.get("ids"));
            // The file has no post_processor, so special tokens or not gives the same ids.
            assertArrayEquals(ids, tokenizer.encode(text), "encode " + text);
            assertArrayEquals(ids, tokenizer.encode(text, false), "encode without specials " + text);
            assertEquals(c.get("decoded").asString(), tokenizer.decode(ids), "decode " + text);
        }
    }

    @Test
    void streamingDeltasAddUpToTheDecodedTextForEveryCase() {
        for (JsonNode c : reference.get("tokenizer_cases")) {
            int[] ids = SharedFixtures.ints(c.get("ids"));
            String full = tokenizer.decode(ids);
            StreamingDetokenizer stream = tokenizer.newStreamingDetokenizer();
            StringBuilder joined = new StringBuilder();
            for (int id : ids) {
                String delta = stream.push(id);
                assertCleanDelta(delta, full);
                joined.append(delta);
            }
            String rest = stream.flush();
            assertCleanDelta(rest, full);
            joined.append(rest);
            assertEquals(full, joined.toString(), "stream of " + c.get("text").asString());
        }
    }

    /** No half characters: no U+FFFD unless the full text has one, no unpaired surrogate at either end. */
    static void assertCleanDelta(String delta, String full) {
        if (full.indexOf('\uFFFD') < 0) {
            assertFalse(delta.indexOf('\uFFFD') >= 0, "delta with U+FFFD: " + delta);
        }
        if (!delta.isEmpty()) {
            assertFalse(Character.isHighSurrogate(delta.charAt(delta.length() - 1)), "delta ends in a high surrogate");
            assertFalse(Character.isLowSurrogate(delta.charAt(0)), "delta starts with a low surrogate");
        }
    }

    @Test
    void byteTokensOfOneEmojiComeOutTogether() {
        // "emoji 🙂👍🏽 mixed": 🙂 is the four byte-level tokens 172 253 247 224.
        StreamingDetokenizer stream = tokenizer.newStreamingDetokenizer();
        List<String> deltas = new ArrayList<>();
        for (int id : new int[] {480, 78, 73, 72, 220, 172, 253, 247, 224}) {
            deltas.add(stream.push(id));
        }
        assertEquals(List.of("em", "o", "j", "i", " ", "", "", "", "🙂"), deltas);
        assertEquals("", stream.flush());
        // An unfinished character is only given out by flush(), as U+FFFD like decode().
        stream.push(172);
        stream.push(253);
        assertEquals(tokenizer.decode(new int[] {172, 253}), stream.flush());
    }

    @Test
    void chatTemplateRendersTheReferenceConversation() {
        JsonNode c = reference.get("chat_template_case");
        List<ChatMessage> messages = new ArrayList<>();
        for (JsonNode m : c.get("messages")) {
            messages.add(new ChatMessage(m.get("role").asString(), m.get("content").asString()));
        }
        String rendered = tokenizer.chatTemplate().orElseThrow().render(messages, true);
        assertEquals(c.get("rendered").asString(), rendered);
        // The rendered text starts with "<|begin_of_text|>", which encode() turns into the BOS id 4091.
        assertArrayEquals(SharedFixtures.ints(c.get("ids")), tokenizer.encode(rendered));
    }

    @Test
    void promptIdsAreBosPlusTheEncodedPrompt() {
        // tokenizer.json has no post_processor, so encode() adds no BOS; the reference prompts start with it.
        for (JsonNode g : reference.get("generations")) {
            String prompt = g.get("prompt").asString();
            int[] promptIds = SharedFixtures.ints(g.get("prompt_ids"));
            assertEquals(4091, promptIds[0]);
            assertEquals(promptIds.length - 1, tokenizer.encode(prompt).length);
            assertArrayEquals(promptIds, tokenizer.prependBos(tokenizer.encode(prompt)), prompt);
            assertArrayEquals(promptIds, tokenizer.prependBos(promptIds), "BOS is not doubled");
            assertEquals(g.get("greedy_text").asString(), tokenizer.decode(SharedFixtures.ints(g.get("greedy_ids"))));
        }
    }

    @Test
    void vocabularyAndSpecialTokens() {
        assertEquals(4096, tokenizer.vocabSize());
        assertEquals(OptionalInt.of(4091), tokenizer.specialTokens().bosId());
        assertEquals("<|begin_of_text|>", tokenizer.specialTokens().bosToken().orElseThrow());
        assertEquals(OptionalInt.of(4092), tokenizer.specialTokens().eosId());
        assertTrue(tokenizer.specialTokens().padToken().isEmpty());
        assertEquals(OptionalInt.of(4095), tokenizer.tokenId("<|eot_id|>"));
        assertEquals("<|eot_id|>", tokenizer.token(4095));
        assertEquals("Ġworld", tokenizer.token(1186));
        assertNull(tokenizer.token(5000));
        assertTrue(tokenizer.isSpecial(4091));
        assertFalse(tokenizer.isSpecial(1186));
        assertEquals("special tokens", tokenizer.decode(new int[] {4091, 1232, 1223, 2755, 289, 835, 82, 4095}, true));
    }
}
