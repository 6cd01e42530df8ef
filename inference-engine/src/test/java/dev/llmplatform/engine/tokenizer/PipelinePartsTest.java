package dev.llmplatform.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The pieces of the pipeline on their own, with the crate's documented behaviour. */
class PipelinePartsTest {

    private static List<String> split(PreTokenizer pre, String text) {
        List<String> out = new ArrayList<>();
        for (Piece p : pre.apply(List.of(Piece.text(text, true)))) {
            out.add(p.text());
        }
        return out;
    }

    private static PreTokenizer.Split split(String regex, SplitBehavior behavior, boolean invert) {
        return new PreTokenizer.Split(OnigRegex.compile(regex), behavior, invert);
    }

    @Test
    void splitBehaviorsAsTheCrateDocumentsThem() {
        String text = "the-final--countdown";
        assertEquals(List.of("the", "final", "countdown"), split(split("-", SplitBehavior.REMOVED, false), text));
        assertEquals(List.of("the", "-", "final", "-", "-", "countdown"), split(split("-", SplitBehavior.ISOLATED, false), text));
        assertEquals(List.of("the-", "final-", "-", "countdown"), split(split("-", SplitBehavior.MERGED_WITH_PREVIOUS, false), text));
        assertEquals(List.of("the", "-final", "-", "-countdown"), split(split("-", SplitBehavior.MERGED_WITH_NEXT, false), text));
        assertEquals(List.of("the", "-", "final", "--", "countdown"), split(split("-", SplitBehavior.CONTIGUOUS, false), text));
        assertEquals(List.of("-", "-", "-"), split(split("-", SplitBehavior.REMOVED, true), text));
    }

    @Test
    void llama3PatternSplitsLikeTheCrate() {
        PreTokenizer.Split llama3 = split("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
                + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", SplitBehavior.ISOLATED, false);
        // Digits never take the space before them; "\s+(?!\S)" leaves one space for the next word.
        assertEquals(List.of("I", "'M", " here", " ", "123", "4", "!!!\n\n", "  ", " x"), split(llama3, "I'M here 1234!!!\n\n   x"));
        // U+00A0 counts as \s (Oniguruma's \s is Unicode White_Space); \r\n stays together.
        assertEquals(List.of("a", "\u00A0", " b", "\r\n", "c"), split(llama3, "a\u00A0 b\r\nc"));
    }

    @Test
    void onigurumaSyntaxTranslations() {
        // BLOOM's class with a nested class: the negation covers the whole union.
        Pattern bloom = OnigRegex.compile(" ?[^(\\s|[.,!?…。，、।۔،])]+");
        assertEquals(List.of("Hello", ",", " world", "!"), Splitter.split("Hello, world!", Splitter.regexMatches(bloom, "Hello, world!"), SplitBehavior.ISOLATED));
        assertEquals("[0-9a-fA-F]+", OnigRegex.translate("\\h+"));
        assertEquals("a{0,3}", OnigRegex.translate("a{,3}"));
        assertEquals("(?s:a.b)", OnigRegex.translate("(?m:a.b)"));
        assertEquals("\\P{L}", OnigRegex.translate("\\p{^L}"));
        assertEquals("ab", OnigRegex.translate("a(?#comment)b"));
        assertEquals(true, OnigRegex.compile("\\p{Han}+").matcher("日本").matches());
        // Possessive and atomic groups exist in both.
        assertEquals(false, OnigRegex.compile("a++a").matcher("aaa").matches());
        // Oniguruma's \w counts ½ (Latin-1 table) but not ①; $ is an end-of-line anchor.
        assertEquals(true, OnigRegex.compile("\\w").matcher("½").matches());
        assertEquals(false, OnigRegex.compile("\\w").matcher("①").matches());
        assertEquals(List.of("a ", "\n", "b "), Splitter.split("a \nb ", Splitter.regexMatches(OnigRegex.compile("\\S\\s*$|\\n"), "a \nb "), SplitBehavior.ISOLATED));
    }

    @Test
    void emptyMatchRightAfterAMatchIsSkippedLikeOnig() {
        List<Splitter.Segment> segments = Splitter.regexMatches(OnigRegex.compile("a*"), "baab");
        // java.util.regex alone would also report an empty match at 3 (right after "aa").
        assertEquals(List.of(new Splitter.Segment(0, 0, true), new Splitter.Segment(0, 1, false),
                new Splitter.Segment(1, 3, true), new Splitter.Segment(3, 4, false), new Splitter.Segment(4, 4, true)), segments);
    }

    @Test
    void otherPreTokenizers() {
        assertEquals(List.of("Hey", "friend", "!", "How", "are", "you", "?!?"), split(new PreTokenizer.Whitespace(), "Hey friend!     How are you?!?"));
        assertEquals(List.of("Hey", "friend!", "How"), split(new PreTokenizer.WhitespaceSplit(), "Hey friend!\u00A0 How"));
        assertEquals(List.of("Hey", "friend", "!", "How", "?", "!", "?"), split(new PreTokenizer.Bert(), "Hey friend! How?!?"));
        assertEquals(List.of("Call ", "1", "2", "3", " now"), split(new PreTokenizer.Digits(true), "Call 123 now"));
        assertEquals(List.of("Call ", "123", " now"), split(new PreTokenizer.Digits(false), "Call 123 now"));
        assertEquals(List.of("Hey", "!", " you", "?"), split(new PreTokenizer.Punctuation(SplitBehavior.ISOLATED), "Hey! you?"));
        assertEquals(List.of("ĠHello", "Ġworld"), split(new PreTokenizer.ByteLevel(true, true), "Hello world"));
        assertEquals(List.of("▁Hey", "▁friend"), split(new PreTokenizer.Metaspace('▁', PreTokenizer.Metaspace.PrependScheme.ALWAYS, true), "Hey friend"));
        assertEquals(List.of("abc", "def", "g"), split(new PreTokenizer.FixedLength(3), "abcdefg"));
    }

    @Test
    void normalizers() {
        // Char by char like Rust: İ gives i + U+0307, and a final Σ is σ (no final-sigma rule).
        assertEquals("i\u0307stanbul σασ", new Normalizer.Lowercase().normalize("İstanbul ΣΑΣ"));
        assertEquals("x \u00A0", new Normalizer.Strip(true, false).normalize("\u00A0 x \u00A0"));
        assertEquals("ﬁ", new Normalizer.Unicode(java.text.Normalizer.Form.NFC).normalize("ﬁ"));
        assertEquals("fi2", new Normalizer.Unicode(java.text.Normalizer.Form.NFKC).normalize("ﬁ²"));
        assertEquals("cafe", new Normalizer.Sequence(List.of(new Normalizer.Unicode(java.text.Normalizer.Form.NFD),
                new Normalizer.StripAccents())).normalize("café"));
        assertEquals("", new Normalizer.Prepend("▁").normalize(""));
        assertEquals("a b c", new Normalizer.Replace(OnigRegex.compile("\\s+"), null, " ").normalize("a \n\tb   c"));
        assertEquals("ĠhÃ©", new Normalizer.ByteLevel().normalize(" hé"));
    }

    @Test
    void addedTokenFlags() {
        tools.jackson.databind.node.ObjectNode json = ByteLevelBpeTest.gpt2FixtureJson(false);
        tools.jackson.databind.node.ArrayNode added = (tools.jackson.databind.node.ArrayNode) json.get("added_tokens");
        added.addObject().put("id", 269).put("content", "<mask>").put("single_word", false).put("lstrip", true)
                .put("rstrip", false).put("normalized", false).put("special", true);
        added.addObject().put("id", 270).put("content", "<sep>").put("single_word", false).put("lstrip", false)
                .put("rstrip", true).put("normalized", false).put("special", true);
        added.addObject().put("id", 271).put("content", "lo").put("single_word", true).put("lstrip", false)
                .put("rstrip", false).put("normalized", true).put("special", false);
        Tokenizer t = Tokenizer.fromJson(json.toString(), null);
        int a = ByteLevelBpeTest.id("a");
        int space = ByteLevelBpeTest.id("Ġ");
        // lstrip swallows the spaces before <mask>, rstrip those after <sep>.
        assertArrayEquals(new int[] {a, 269, space, a}, t.encode("a  <mask> a"));
        assertArrayEquals(new int[] {a, space, 270, a}, t.encode("a <sep>  a"));
        // single_word: "lo" alone is the added token, inside "Hello" it is not.
        assertArrayEquals(new int[] {a, space, 271, space, ByteLevelBpeTest.id("Hello")}, t.encode("a lo Hello"));
        assertEquals("a  <mask> a", t.decode(new int[] {a, space, space, 269, space, a}));
        assertEquals("a  a", t.decode(new int[] {a, space, 269, space, a}, true));
    }

    @Test
    void lossyUtf8LikeRust() {
        byte[] ok = "aé🙂".getBytes(StandardCharsets.UTF_8);
        assertEquals("aé🙂", Utf8.decodeLossy(ok, ok.length));
        // Truncated 4-byte sequence: one U+FFFD for the maximal subpart; stray continuation bytes: one each.
        byte[] bad = {(byte) 0xF0, (byte) 0x9F, (byte) 0x99, 'x', (byte) 0x80, (byte) 0x80, (byte) 0xED, (byte) 0xA0, (byte) 0x80};
        assertEquals("\uFFFDx\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD", Utf8.decodeLossy(bad, bad.length));
        assertNull(Utf8.decodeStrict(bad, bad.length));
    }

    @Test
    void mergeTableKeepsTheLastRankOfARepeatedPair() {
        MergeTable table = new MergeTable(1);
        for (int i = 0; i < 1000; i++) {
            table.put(i, i + 1, i, 5000 + i);
        }
        table.put(3, 4, 2000, 9);
        assertEquals(2000, MergeTable.rank(table.get(3, 4)));
        assertEquals(9, MergeTable.mergedId(table.get(3, 4)));
        assertEquals(5999, MergeTable.mergedId(table.get(999, 1000)));
        assertEquals(MergeTable.ABSENT, table.get(4, 3));
    }
}
