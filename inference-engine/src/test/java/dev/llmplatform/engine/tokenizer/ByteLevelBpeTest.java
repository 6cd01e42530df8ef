package dev.llmplatform.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/** A tiny GPT-2 style tokenizer: ByteLevel pre-tokenizer with the GPT-2 regex, byte-level BPE, ByteLevel decoder. */
class ByteLevelBpeTest {

    /** Every byte as its byte-level char (ids 0..255 in byte order), then merged tokens from 256 on. */
    static final String[] MERGED = {"Ġw", "or", "Ġwor", "ld", "Ġworld", "He", "ll", "Hell", "Hello", "'s", "Ġ1", "23"};
    /** Rank order; "[a, b]" pairs, the newer JSON form. */
    static final String[][] MERGES = {
        {"Ġ", "w"}, {"o", "r"}, {"Ġw", "or"}, {"l", "d"}, {"Ġwor", "ld"}, {"H", "e"}, {"l", "l"}, {"He", "ll"},
        {"Hell", "o"}, {"'", "s"}, {"Ġ", "1"}, {"2", "3"}
    };
    static final int ENDOFTEXT = 268;

    static int id(String token) {
        if (token.length() == 1 && ByteLevelAlphabet.byteOf(token.charAt(0)) >= 0) {
            return ByteLevelAlphabet.byteOf(token.charAt(0));
        }
        for (int i = 0; i < MERGED.length; i++) {
            if (MERGED[i].equals(token)) {
                return 256 + i;
            }
        }
        throw new IllegalArgumentException(token);
    }

    static Tokenizer gpt2(boolean addPrefixSpace) {
        return Tokenizer.fromJson(gpt2FixtureJson(addPrefixSpace).toString(), null);
    }

    static ObjectNode gpt2FixtureJson(boolean addPrefixSpace) {
        ObjectNode root = SharedFixtures.JSON.createObjectNode();
        root.putArray("added_tokens").addObject().put("id", ENDOFTEXT).put("content", "<|endoftext|>")
                .put("single_word", false).put("lstrip", false).put("rstrip", false).put("normalized", true).put("special", true);
        root.putNull("normalizer");
        root.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", addPrefixSpace)
                .put("trim_offsets", true).put("use_regex", true);
        root.putObject("post_processor").put("type", "ByteLevel").put("add_prefix_space", true)
                .put("trim_offsets", false).put("use_regex", true);
        root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true)
                .put("trim_offsets", true).put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE").putNull("dropout").putNull("unk_token").put("continuing_subword_prefix", "")
                .put("end_of_word_suffix", "").put("fuse_unk", false).put("byte_fallback", false);
        ObjectNode vocab = model.putObject("vocab");
        for (int b = 0; b < 256; b++) {
            vocab.put(String.valueOf(ByteLevelAlphabet.charOf(b)), b);
        }
        for (int i = 0; i < MERGED.length; i++) {
            vocab.put(MERGED[i], 256 + i);
        }
        ArrayNode merges = model.putArray("merges");
        for (String[] m : MERGES) {
            merges.addArray().add(m[0]).add(m[1]);
        }
        return root;
    }

    @Test
    void gpt2RegexSplitsThenMergesWithinEachPiece() {
        Tokenizer t = gpt2(false);
        // Pieces: "Hello", " world", "'s", " 123", "!"; " 123" merges "Ġ 1" (rank 10) before "2 3" (11).
        int[] expected = {id("Hello"), id("Ġworld"), id("'s"), id("Ġ1"), id("23"), id("!")};
        assertArrayEquals(expected, t.encode("Hello world's 123!"));
        assertEquals("Hello world's 123!", t.decode(expected));
    }

    @Test
    void addPrefixSpaceMakesTheFirstWordLookLikeAMiddleOne() {
        assertArrayEquals(new int[] {id("Ġ"), id("Hello"), id("Ġworld")}, gpt2(true).encode("Hello world"));
        assertArrayEquals(new int[] {id("Hello"), id("Ġworld")}, gpt2(false).encode("Hello world"));
    }

    @Test
    void whitespaceRunsSplitLikeGpt2() {
        Tokenizer t = gpt2(false);
        // "\s+(?!\S)" leaves the last space of a run for the next word: "a", "  ", " world" ... and "\n\n" before "b"
        // gives "\n", "\n".
        assertArrayEquals(new int[] {id("a"), id("Ġ"), id("Ġ"), id("Ġworld")}, t.encode("a   world"));
        assertArrayEquals(new int[] {id("a"), id("Ċ"), id("Ċ"), id("b")}, t.encode("a\n\nb"));
        // U+00A0 is \s for the regex, and two bytes (C2 A0) for the model.
        assertArrayEquals(new int[] {id("a"), 0xC2, 0xA0, id("b")}, t.encode("a\u00A0b"));
    }

    @Test
    void specialTokenInTextAndInvalidUtf8() {
        Tokenizer t = gpt2(false);
        assertArrayEquals(new int[] {id("Hello"), ENDOFTEXT, id("Ġworld")}, t.encode("Hello<|endoftext|> world"));
        assertEquals("Hello<|endoftext|> world", t.decode(new int[] {id("Hello"), ENDOFTEXT, id("Ġworld")}));
        assertEquals("Hello world", t.decode(new int[] {id("Hello"), ENDOFTEXT, id("Ġworld")}, true));
        // Byte-level decoding is lossy UTF-8: a truncated 4-byte sequence is one U+FFFD.
        assertEquals("a\uFFFDb", t.decode(new int[] {id("a"), 0xF0, 0x9F, id("b")}));
        assertEquals(269, t.vocabSize());
    }

    @Test
    void streamsEmojiAndCjkWholeCharacters() {
        Tokenizer t = gpt2(false);
        String text = "Hello 🙂 日本 world";
        int[] ids = t.encode(text);
        StreamingDetokenizer stream = t.newStreamingDetokenizer();
        List<String> deltas = new ArrayList<>();
        for (int id : ids) {
            String delta = stream.push(id);
            KjvReferenceTest.assertCleanDelta(delta, text);
            deltas.add(delta);
        }
        deltas.add(stream.flush());
        assertEquals(text, String.join("", deltas));
        assertEquals(List.of("Hello", " ", "", "", "", "🙂", " ", "", "", "日", "", "", "本", " world", ""), deltas);
    }
}
