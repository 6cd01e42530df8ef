package dev.llmplatform.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * A tiny Llama 2 / Mistral style tokenizer (SentencePiece BPE converted to tokenizer.json: byte fallback,
 * "▁" for spaces, TemplateProcessing adding {@code <s>}). Expected ids are worked out by hand from the merge
 * ranks below, and agree with the Rust crate.
 */
class SentencePieceBpeTest {

    /** ids: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then these from 259 on. */
    static final String[] PIECES = {
        "▁", "h", "e", "l", "o", "w", "r", "d", "▁h", "ll", "ell", "▁hell", "▁hello", "▁w", "or", "▁wor", "▁worl",
        "▁world", "el", "!"
    };
    static final String[] MERGES = {
        "▁ h", "l l", "e ll", "▁h ell", "▁hell o", "▁ w", "o r", "▁w or", "▁wor l", "▁worl d", "e l"
    };

    static int id(String piece) {
        for (int i = 0; i < PIECES.length; i++) {
            if (PIECES[i].equals(piece)) {
                return 259 + i;
            }
        }
        throw new IllegalArgumentException(piece);
    }

    static int byteId(int b) {
        return 3 + b;
    }

    /** The Llama 2 layout: normalizer Prepend + Replace, no pre-tokenizer. */
    static ObjectNode llama2Style() {
        ObjectNode root = base();
        root.set("normalizer", SharedFixtures.JSON.readTree("""
                {"type": "Sequence", "normalizers": [
                  {"type": "Prepend", "prepend": "▁"},
                  {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}"""));
        root.putNull("pre_tokenizer");
        root.set("decoder", SharedFixtures.JSON.readTree("""
                {"type": "Sequence", "decoders": [
                  {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                  {"type": "ByteFallback"}, {"type": "Fuse"},
                  {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}"""));
        return root;
    }

    /**
     * The newer layout (Mistral v0.3, Llama 2 with legacy=false): no normalizer, a Metaspace pre-tokenizer, and
     * the same decoder as Llama 2 (or, with {@code metaspaceDecoder}, a Metaspace decoder).
     */
    static ObjectNode metaspaceStyle(String prependScheme, boolean split, boolean metaspaceDecoder) {
        ObjectNode root = llama2Style();
        root.putNull("normalizer");
        String metaspace = "{\"type\": \"Metaspace\", \"replacement\": \"▁\", \"prepend_scheme\": \"" + prependScheme
                + "\", \"split\": " + split + "}";
        root.set("pre_tokenizer", SharedFixtures.JSON.readTree(metaspace));
        if (metaspaceDecoder) {
            root.set("decoder", SharedFixtures.JSON.readTree(metaspace));
        }
        return root;
    }

    private static ObjectNode base() {
        ObjectNode root = SharedFixtures.JSON.createObjectNode();
        root.put("version", "1.0");
        ArrayNode added = root.putArray("added_tokens");
        String[] specials = {"<unk>", "<s>", "</s>"};
        for (int i = 0; i < specials.length; i++) {
            added.addObject().put("id", i).put("content", specials[i]).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        root.set("post_processor", SharedFixtures.JSON.readTree("""
                {"type": "TemplateProcessing",
                 "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                 "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                          {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                 "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}"""));
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE").putNull("dropout").put("unk_token", "<unk>").putNull("continuing_subword_prefix")
                .putNull("end_of_word_suffix").put("fuse_unk", true).put("byte_fallback", true).put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        for (int i = 0; i < specials.length; i++) {
            vocab.put(specials[i], i);
        }
        for (int b = 0; b < 256; b++) {
            vocab.put(String.format("<0x%02X>", b), byteId(b));
        }
        for (int i = 0; i < PIECES.length; i++) {
            vocab.put(PIECES[i], 259 + i);
        }
        ArrayNode merges = model.putArray("merges");
        for (String m : MERGES) {
            merges.add(m); // the older "a b" string form
        }
        return root;
    }

    static Tokenizer tokenizer(ObjectNode json) {
        return Tokenizer.fromJson(json.toString(), null);
    }

    @Test
    void mergesApplyByRank() {
        Tokenizer t = tokenizer(llama2Style());
        // "▁hello▁world": ▁h (rank 0), ll (1), ell (2), ▁hell (3), ▁hello (4), ▁w (5), or (6), ▁wor, ▁worl, ▁world.
        // "e l" (rank 10) never fires: by then e has merged with ll.
        assertArrayEquals(new int[] {1, id("▁hello"), id("▁world")}, t.encode("hello world"));
        assertArrayEquals(new int[] {id("▁hello"), id("▁world"), id("!")}, t.encode("hello world!", false));
        // "▁hel": ▁h (0) first, then nothing merges "▁h e" or "e l"+"▁h"... "e l" (10) fires as the only candidate.
        assertArrayEquals(new int[] {1, id("▁h"), id("el")}, t.encode("hel"));
    }

    @Test
    void bytesFallBackForCharsOutsideTheVocabulary() {
        Tokenizer t = tokenizer(llama2Style());
        // 'i' is not in the vocabulary: <0x69>; 🙂 is F0 9F 99 82.
        int[] expected = {1, id("▁h"), byteId(0x69), id("▁"), byteId(0xF0), byteId(0x9F), byteId(0x99), byteId(0x82)};
        assertArrayEquals(expected, t.encode("hi 🙂"));
        assertEquals("<s> hi 🙂", t.decode(expected));
        assertEquals("hi 🙂", t.decode(expected, true));
        // A lone continuation byte is invalid UTF-8: one U+FFFD per byte, like the crate's ByteFallback.
        assertEquals("h\uFFFD\uFFFD", t.decode(new int[] {id("h"), byteId(0x9F), byteId(0x99)}));
    }

    @Test
    void unknownCharsWithoutByteFallbackFuseIntoOneUnk() {
        ObjectNode json = llama2Style();
        ((ObjectNode) json.get("model")).put("byte_fallback", false);
        assertArrayEquals(new int[] {1, id("▁h"), 0}, tokenizer(json).encode("hiiz"));
        ((ObjectNode) json.get("model")).put("fuse_unk", false);
        assertArrayEquals(new int[] {1, id("▁h"), 0, 0, 0}, tokenizer(json).encode("hiiz"));
    }

    @Test
    void specialTokensInTextAreMatchedBeforeNormalizing() {
        Tokenizer t = tokenizer(llama2Style());
        // The normalizer runs on each piece between special tokens, so "world" gets its own "▁" (legacy Llama 2).
        assertArrayEquals(new int[] {1, 1, id("▁hello"), 2, id("▁world")}, t.encode("<s>hello</s>world"));
        assertEquals("<s><s> hello</s> world", t.decode(t.encode("<s>hello</s>world")));
        assertEquals("hello world", t.decode(t.encode("<s>hello</s>world"), true));
    }

    @Test
    void metaspaceFirstPrependsOnlyAtTheStartOfTheInput() {
        Tokenizer t = tokenizer(metaspaceStyle("first", false, false));
        assertArrayEquals(new int[] {1, id("▁hello"), id("▁world")}, t.encode("hello world"));
        // After <s> the text is not at offset 0: no "▁", so "hello" is h + ell + o.
        assertArrayEquals(new int[] {1, 1, id("h"), id("ell"), id("o")}, t.encode("<s>hello"));
        assertEquals("hello world", t.decode(new int[] {id("▁hello"), id("▁world")}));
        assertEquals("<s> hello", t.decode(new int[] {1, id("▁hello")}));
    }

    @Test
    void metaspaceDecoderDropsTheFirstTokensReplacementChars() {
        Tokenizer t = tokenizer(metaspaceStyle("first", false, true));
        assertEquals("hello world", t.decode(new int[] {id("▁hello"), id("▁world")}));
        assertEquals("<s> hello", t.decode(new int[] {1, id("▁hello")}));
        // Only the first token loses its "▁" (all of them, as in the crate), so the second keeps its space.
        assertEquals(" world", t.decode(new int[] {id("▁"), id("▁world")}));
    }

    @Test
    void metaspaceAlwaysWithSplit() {
        Tokenizer t = tokenizer(metaspaceStyle("always", true, false));
        assertArrayEquals(new int[] {1, id("▁hello"), id("▁world")}, t.encode("hello world"));
        assertArrayEquals(new int[] {1, 1, id("▁hello")}, t.encode("<s>hello"));
        // Two spaces: "▁hello▁▁world" splits before each "▁".
        assertArrayEquals(new int[] {id("▁hello"), id("▁"), id("▁world")}, t.encode("hello  world", false));
    }

    @Test
    void roundTripsAndStreams() {
        for (Tokenizer t : List.of(tokenizer(llama2Style()), tokenizer(metaspaceStyle("first", false, false)))) {
            for (String text : List.of("hello world", "hello  world!", "hi 🙂 héllo", "日本", "a\nb\tc", "")) {
                int[] ids = t.encode(text, false);
                assertEquals(text, t.decode(ids), "round trip of " + text);
                StreamingDetokenizer stream = t.newStreamingDetokenizer();
                StringBuilder joined = new StringBuilder();
                List<String> deltas = new ArrayList<>();
                for (int id : ids) {
                    String delta = stream.push(id);
                    KjvReferenceTest.assertCleanDelta(delta, text);
                    deltas.add(delta);
                    joined.append(delta);
                }
                joined.append(stream.flush());
                assertEquals(text, joined.toString(), "stream of " + text + " " + deltas);
            }
        }
    }

    @Test
    void streamingKeepsTheSpaceThatDecodeStripsOnlyAtTheStart() {
        Tokenizer t = tokenizer(llama2Style());
        StreamingDetokenizer stream = t.newStreamingDetokenizer();
        assertEquals("hello", stream.push(id("▁hello")));
        assertEquals(" world", stream.push(id("▁world")));
        assertEquals("", stream.push(byteId(0xF0)));
        assertEquals("", stream.push(byteId(0x9F)));
        assertEquals("", stream.push(byteId(0x99)));
        assertEquals("🙂", stream.push(byteId(0x82)));
        assertEquals("", stream.flush());
    }
}
