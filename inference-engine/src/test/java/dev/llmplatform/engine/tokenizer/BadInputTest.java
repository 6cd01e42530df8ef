package dev.llmplatform.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.node.ObjectNode;

/** Bad files and bad ids fail with a TokenizerException that names the file and what was expected. */
class BadInputTest {

    private static void assertMessage(TokenizerException e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), "message \"" + e.getMessage() + "\" lacks \"" + part + "\"");
        }
    }

    @Test
    void malformedJson() {
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.fromJson("{\"model\": {", null));
        assertMessage(e, "tokenizer.json", "not valid JSON");
        e = assertThrows(TokenizerException.class, () -> Tokenizer.fromJson("[1, 2]", null));
        assertMessage(e, "tokenizer.json", "JSON object");
    }

    @Test
    void malformedConfigJson() {
        String json = SentencePieceBpeTest.llama2Style().toString();
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.fromJson(json, "{oops"));
        assertMessage(e, "tokenizer_config.json", "not valid JSON");
    }

    @Test
    void unknownModelType() {
        ObjectNode json = SentencePieceBpeTest.llama2Style();
        ((ObjectNode) json.get("model")).put("type", "WordPiece");
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.fromJson(json.toString(), null));
        assertMessage(e, "tokenizer.json", "unsupported model type \"WordPiece\"", "expected BPE");
    }

    @Test
    void missingModelVocabOrMerges() {
        ObjectNode noModel = SentencePieceBpeTest.llama2Style();
        noModel.remove("model");
        assertMessage(assertThrows(TokenizerException.class, () -> Tokenizer.fromJson(noModel.toString(), null)), "\"model\"");
        ObjectNode noVocab = SentencePieceBpeTest.llama2Style();
        ((ObjectNode) noVocab.get("model")).remove("vocab");
        assertMessage(assertThrows(TokenizerException.class, () -> Tokenizer.fromJson(noVocab.toString(), null)), "\"vocab\"");
        ObjectNode noMerges = SentencePieceBpeTest.llama2Style();
        ((ObjectNode) noMerges.get("model")).remove("merges");
        assertMessage(assertThrows(TokenizerException.class, () -> Tokenizer.fromJson(noMerges.toString(), null)), "\"merges\"");
    }

    @Test
    void mergeWithUnknownToken() {
        ObjectNode json = SentencePieceBpeTest.llama2Style();
        ((tools.jackson.databind.node.ArrayNode) json.get("model").get("merges")).add("x y");
        assertMessage(assertThrows(TokenizerException.class, () -> Tokenizer.fromJson(json.toString(), null)),
                "merge 12", "\"x\" \"y\"", "vocab");
        ObjectNode badForm = SentencePieceBpeTest.llama2Style();
        ((tools.jackson.databind.node.ArrayNode) badForm.get("model").get("merges")).add("a b c");
        assertMessage(assertThrows(TokenizerException.class, () -> Tokenizer.fromJson(badForm.toString(), null)),
                "merge 12", "two tokens");
    }

    @Test
    void unknownPipelineTypes() {
        ObjectNode pre = SentencePieceBpeTest.llama2Style();
        pre.putObject("pre_tokenizer").put("type", "UnicodeScripts");
        assertMessage(assertThrows(TokenizerException.class, () -> Tokenizer.fromJson(pre.toString(), null)),
                "unsupported pre_tokenizer type \"UnicodeScripts\"");
        ObjectNode norm = SentencePieceBpeTest.llama2Style();
        norm.putObject("normalizer").put("type", "Precompiled");
        assertMessage(assertThrows(TokenizerException.class, () -> Tokenizer.fromJson(norm.toString(), null)),
                "unsupported normalizer type \"Precompiled\"");
        ObjectNode dec = SentencePieceBpeTest.llama2Style();
        dec.putObject("decoder").put("type", "CTC");
        assertMessage(assertThrows(TokenizerException.class, () -> Tokenizer.fromJson(dec.toString(), null)),
                "unsupported decoder type \"CTC\"");
        ObjectNode regex = SentencePieceBpeTest.llama2Style();
        regex.set("pre_tokenizer", SharedFixtures.JSON.readTree(
                "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(unclosed\"}, \"behavior\": \"Isolated\", \"invert\": false}"));
        assertMessage(assertThrows(TokenizerException.class, () -> Tokenizer.fromJson(regex.toString(), null)),
                "Split pre_tokenizer regex (unclosed");
    }

    @Test
    void idOutsideTheVocabulary() {
        Tokenizer t = Tokenizer.fromJson(SentencePieceBpeTest.llama2Style().toString(), null);
        int size = t.vocabSize();
        TokenizerException e = assertThrows(TokenizerException.class, () -> t.decode(new int[] {1, size}));
        assertMessage(e, "token id " + size, "vocab size " + size);
        e = assertThrows(TokenizerException.class, () -> t.decode(new int[] {-1}));
        assertMessage(e, "token id -1");
        assertThrows(TokenizerException.class, () -> t.newStreamingDetokenizer().push(size + 5));
    }

    @Test
    void missingOrUnreadableFiles(@TempDir Path dir) throws Exception {
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.load(dir));
        assertMessage(e, dir.resolve("tokenizer.json").toString(), "does not exist");
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}");
        e = assertThrows(TokenizerException.class, () -> Tokenizer.load(dir));
        assertMessage(e, dir.resolve("tokenizer.json").toString(), "Unigram");
    }

    @Test
    void badChatTemplates() {
        String json = SentencePieceBpeTest.llama2Style().toString();
        TokenizerException e = assertThrows(TokenizerException.class,
                () -> Tokenizer.fromJson(json, "{\"chat_template\": 42}"));
        assertMessage(e, "tokenizer_config.json", "chat_template");
        Tokenizer t = Tokenizer.fromJson(json, "{\"chat_template\": \"{% if %}\"}");
        e = assertThrows(TokenizerException.class, () -> t.chatTemplate().orElseThrow().render(java.util.List.of(), true));
        assertMessage(e, "chat template");
    }
}
