package dev.llmplatform.engine.tokenizer;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * A tokenizer from a GGUF file's {@code tokenizer.*} metadata (llama.cpp's format), built by writing the
 * {@code tokenizer.json} and {@code tokenizer_config.json} that the metadata describes and reading them through
 * {@link Tokenizer#fromJson}, so that GGUF and Hugging Face models share one tokenizer implementation.
 *
 * <p>Reads byte-level BPE ({@code tokenizer.ggml.model = gpt2}) with the pre-tokenizers llama.cpp names
 * {@code llama-bpe} (Llama 3's split pattern; llama.cpp then ignores merges for whole-vocabulary words, as
 * transformers' Llama 3 tokenizer does), {@code qwen2}, and {@code default}/{@code gpt2}. Tokens of type control (3)
 * become special added tokens, user-defined (4) plain added tokens. SentencePiece vocabularies
 * ({@code tokenizer.ggml.model = llama}) carry scores instead of merges and are refused with a clear message.
 */
public final class GgufTokenizer {
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final String LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    /** Token texts that llama.cpp treats as end of generation besides the EOS id. */
    private static final Set<String> EOG_TEXTS = Set.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
            "<|eom_id|>", "<EOT>");

    private GgufTokenizer() {
    }

    /** The tokenizer the metadata describes. */
    public static Tokenizer fromMetadata(Map<String, Object> md) {
        String model = md.get("tokenizer.ggml.model") instanceof String s ? s : null;
        if (!"gpt2".equals(model)) {
            throw new TokenizerException("GGUF tokenizer.ggml.model is \"" + model
                    + "\"; only byte-level BPE (\"gpt2\") vocabularies are read so far: pass token ids instead of text");
        }
        List<?> tokens = list(md, "tokenizer.ggml.tokens");
        List<?> types = md.get("tokenizer.ggml.token_type") instanceof List<?> l ? l : null;
        List<?> merges = list(md, "tokenizer.ggml.merges");
        String pre = md.get("tokenizer.ggml.pre") instanceof String s ? s : "default";

        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        ArrayNode added = root.putArray("added_tokens");
        ObjectNode vocab = JSON.createObjectNode();
        for (int id = 0; id < tokens.size(); id++) {
            String text = (String) tokens.get(id);
            long type = types == null ? 1 : ((Number) types.get(id)).longValue();
            if (type == 3 || type == 4) {
                ObjectNode a = added.addObject();
                a.put("id", id);
                a.put("content", text);
                a.put("single_word", false);
                a.put("lstrip", false);
                a.put("rstrip", false);
                a.put("normalized", false);
                a.put("special", type == 3);
            } else {
                vocab.put(text, id);
            }
        }
        root.putNull("normalizer");
        ObjectNode byteLevel = JSON.createObjectNode();
        byteLevel.put("type", "ByteLevel");
        byteLevel.put("add_prefix_space", false);
        byteLevel.put("trim_offsets", true);
        boolean ignoreMerges = false;
        switch (pre) {
            case "llama-bpe", "llama3", "llama-v3", "qwen2" -> {
                ignoreMerges = !pre.equals("qwen2");
                ObjectNode seq = root.putObject("pre_tokenizer");
                seq.put("type", "Sequence");
                ArrayNode list = seq.putArray("pretokenizers");
                ObjectNode split = list.addObject();
                split.put("type", "Split");
                split.putObject("pattern").put("Regex", pre.equals("qwen2") ? QWEN2_SPLIT : LLAMA3_SPLIT);
                split.put("behavior", "Isolated");
                split.put("invert", false);
                byteLevel.put("use_regex", false);
                list.add(byteLevel);
            }
            case "default", "gpt2", "gpt-2" -> {
                byteLevel.put("use_regex", true);
                root.set("pre_tokenizer", byteLevel);
            }
            default -> throw new TokenizerException("GGUF tokenizer.ggml.pre is \"" + pre
                    + "\"; the pre-tokenizers read are llama-bpe, qwen2 and default: pass token ids instead of text");
        }
        root.putNull("post_processor");
        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "ByteLevel");
        decoder.put("add_prefix_space", true);
        decoder.put("trim_offsets", true);
        decoder.put("use_regex", true);
        ObjectNode m = root.putObject("model");
        m.put("type", "BPE");
        m.put("byte_fallback", false);
        m.put("ignore_merges", ignoreMerges);
        m.set("vocab", vocab);
        ArrayNode mergeArray = m.putArray("merges");
        merges.forEach(x -> mergeArray.add((String) x));

        ObjectNode config = JSON.createObjectNode();
        tokenText(md, tokens, "tokenizer.ggml.bos_token_id").ifPresent(t -> config.put("bos_token", t));
        tokenText(md, tokens, "tokenizer.ggml.eos_token_id").ifPresent(t -> config.put("eos_token", t));
        tokenText(md, tokens, "tokenizer.ggml.unknown_token_id").ifPresent(t -> config.put("unk_token", t));
        tokenText(md, tokens, "tokenizer.ggml.padding_token_id").ifPresent(t -> config.put("pad_token", t));
        if (md.get("tokenizer.chat_template") instanceof String template) {
            config.put("chat_template", template);
        }
        return Tokenizer.fromJson(JSON.writeValueAsString(root), JSON.writeValueAsString(config));
    }

    /** {@code tokenizer.ggml.add_bos_token}, or null when the file does not say. */
    public static Boolean addBosToken(Map<String, Object> md) {
        return md.get("tokenizer.ggml.add_bos_token") instanceof Boolean b ? b : null;
    }

    /**
     * The ids that end generation as llama.cpp finds them: EOS, EOT and EOM ids from the metadata, and control
     * tokens whose text marks an end of turn ({@code <|eot_id|>}, {@code <|im_end|>}, ...).
     */
    public static Set<Integer> endOfGenerationIds(Map<String, Object> md) {
        Set<Integer> ids = new LinkedHashSet<>();
        for (String key : List.of("tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id")) {
            if (md.get(key) instanceof Long l) {
                ids.add(l.intValue());
            }
        }
        if (md.get("tokenizer.ggml.tokens") instanceof List<?> tokens) {
            List<?> types = md.get("tokenizer.ggml.token_type") instanceof List<?> l ? l : null;
            for (int id = 0; id < tokens.size(); id++) {
                boolean control = types == null || ((Number) types.get(id)).longValue() == 3;
                if (control && EOG_TEXTS.contains(tokens.get(id))) {
                    ids.add(id);
                }
            }
        }
        return ids;
    }

    private static List<?> list(Map<String, Object> md, String key) {
        if (md.get(key) instanceof List<?> l) {
            return l;
        }
        throw new TokenizerException("GGUF metadata has no " + key + " array");
    }

    private static java.util.Optional<String> tokenText(Map<String, Object> md, List<?> tokens, String key) {
        if (md.get(key) instanceof Long id && id >= 0 && id < tokens.size()) {
            return java.util.Optional.of((String) tokens.get(id.intValue()));
        }
        return java.util.Optional.empty();
    }
}
