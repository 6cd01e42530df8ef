package dev.llmplatform.engine.tokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** Reads a Hugging Face tokenizer.json into the pipeline's parts; every error names the file and what was expected. */
final class TokenizerJsonParser {

    static final JsonMapper MAPPER = JsonMapper.builder().build();

    /** The parsed pipeline. Any part but the model and added vocabulary may be null. */
    record Parts(Normalizer normalizer, PreTokenizer preTokenizer, BpeModel model, int modelVocabEntries,
                 List<AddedToken> addedTokens, PostProcessor postProcessor, Decoder decoder) {
    }

    private final String source;

    private TokenizerJsonParser(String source) {
        this.source = source;
    }

    static Parts parse(String json, String source) {
        return new TokenizerJsonParser(source).parse(json);
    }

    /** Parses JSON text, naming {@code source} if it is malformed or not an object. */
    static JsonNode readObject(String json, String source) {
        JsonNode root;
        try {
            root = MAPPER.readTree(json);
        } catch (JacksonException e) {
            throw new TokenizerException(source + " is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new TokenizerException(source + " must hold a JSON object at the top level");
        }
        return root;
    }

    private Parts parse(String json) {
        JsonNode root = readObject(json, source);
        JsonNode modelNode = root.get("model");
        if (modelNode == null || !modelNode.isObject()) {
            throw error("has no \"model\" object");
        }
        Normalizer normalizer = nullable(root.get("normalizer")) ? null : normalizer(root.get("normalizer"));
        PreTokenizer preTokenizer = nullable(root.get("pre_tokenizer")) ? null : preTokenizer(root.get("pre_tokenizer"));
        PostProcessor postProcessor = nullable(root.get("post_processor")) ? null : postProcessor(root.get("post_processor"));
        Decoder decoder = nullable(root.get("decoder")) ? null : decoder(root.get("decoder"));
        BpeModel model = model(modelNode);
        return new Parts(normalizer, preTokenizer, model, model.vocabEntries(), addedTokens(root.get("added_tokens")), postProcessor, decoder);
    }

    private TokenizerException error(String what) {
        return new TokenizerException(source + ": " + what);
    }

    private static boolean nullable(JsonNode n) {
        return n == null || n.isNull();
    }

    private String type(JsonNode node, String section) {
        if (!node.isObject()) {
            throw error(section + " must be an object with a \"type\"");
        }
        JsonNode t = node.get("type");
        if (t == null || !t.isString()) {
            throw error(section + " has no \"type\" string");
        }
        return t.stringValue();
    }

    private String string(JsonNode node, String field, String section) {
        JsonNode v = node.get(field);
        if (v == null || !v.isString()) {
            throw error(section + " needs a string \"" + field + "\"");
        }
        return v.stringValue();
    }

    private static String optString(JsonNode node, String field) {
        JsonNode v = node.get(field);
        return v == null || v.isNull() ? null : v.asString();
    }

    private static boolean bool(JsonNode node, String field, boolean dflt) {
        JsonNode v = node.get(field);
        return v == null || v.isNull() ? dflt : v.asBoolean();
    }

    private int codePoint(JsonNode node, String field, String section) {
        String s = string(node, field, section);
        if (s.codePointCount(0, s.length()) != 1) {
            throw error(section + " \"" + field + "\" must be a single character, got \"" + s + "\"");
        }
        return s.codePointAt(0);
    }

    private List<JsonNode> array(JsonNode node, String field, String section) {
        JsonNode v = node.get(field);
        if (v == null || !v.isArray()) {
            throw error(section + " needs an array \"" + field + "\"");
        }
        List<JsonNode> out = new ArrayList<>();
        v.forEach(out::add);
        return out;
    }

    /** {"String": "..."} (a literal) or {"Regex": "..."} (Oniguruma syntax). */
    private Pattern pattern(JsonNode node, String section) {
        JsonNode p = node.get("pattern");
        if (p == null || !p.isObject()) {
            throw error(section + " needs a \"pattern\" object with \"String\" or \"Regex\"");
        }
        if (p.has("String")) {
            return OnigRegex.literal(p.get("String").asString());
        }
        if (p.has("Regex")) {
            String regex = p.get("Regex").asString();
            try {
                return OnigRegex.compile(regex);
            } catch (PatternSyntaxException e) {
                throw error(section + " regex " + regex + " cannot be compiled: " + e.getDescription());
            }
        }
        throw error(section + " \"pattern\" must have \"String\" or \"Regex\"");
    }

    /** The pattern's "String" form, or null for a regex. */
    private static String literal(JsonNode node) {
        JsonNode p = node.path("pattern").get("String");
        return p == null || !p.isString() ? null : p.stringValue();
    }

    private Normalizer normalizer(JsonNode node) {
        String type = type(node, "normalizer");
        return switch (type) {
            case "NFC" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFC);
            case "NFD" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFD);
            case "NFKC" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFKC);
            case "NFKD" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFKD);
            case "Lowercase" -> new Normalizer.Lowercase();
            case "Strip" -> new Normalizer.Strip(bool(node, "strip_left", true), bool(node, "strip_right", true));
            case "StripAccents" -> new Normalizer.StripAccents();
            case "Prepend" -> new Normalizer.Prepend(string(node, "prepend", "Prepend normalizer"));
            case "Replace" -> new Normalizer.Replace(pattern(node, "Replace normalizer"), literal(node),
                    string(node, "content", "Replace normalizer"));
            case "ByteLevel" -> new Normalizer.ByteLevel();
            case "Nmt" -> new Normalizer.Nmt();
            case "BertNormalizer" -> {
                boolean lowercase = bool(node, "lowercase", true);
                yield new Normalizer.Bert(bool(node, "clean_text", true), bool(node, "handle_chinese_chars", true),
                        bool(node, "strip_accents", lowercase), lowercase);
            }
            case "Sequence" -> {
                List<Normalizer> steps = new ArrayList<>();
                for (JsonNode n : array(node, "normalizers", "Sequence normalizer")) {
                    steps.add(normalizer(n));
                }
                yield new Normalizer.Sequence(steps);
            }
            default -> throw error("unsupported normalizer type \"" + type + "\"");
        };
    }

    private PreTokenizer preTokenizer(JsonNode node) {
        String type = type(node, "pre_tokenizer");
        return switch (type) {
            case "ByteLevel" -> new PreTokenizer.ByteLevel(bool(node, "add_prefix_space", true), bool(node, "use_regex", true));
            case "Split" -> {
                String behavior = string(node, "behavior", "Split pre_tokenizer");
                SplitBehavior b = SplitBehavior.fromJson(behavior);
                if (b == null) {
                    throw error("Split pre_tokenizer has unknown behavior \"" + behavior + "\"");
                }
                yield new PreTokenizer.Split(pattern(node, "Split pre_tokenizer"), b, bool(node, "invert", false));
            }
            case "Metaspace" -> new PreTokenizer.Metaspace(codePoint(node, "replacement", "Metaspace pre_tokenizer"),
                    prependScheme(node), bool(node, "split", true));
            case "Whitespace" -> new PreTokenizer.Whitespace();
            case "WhitespaceSplit" -> new PreTokenizer.WhitespaceSplit();
            case "BertPreTokenizer" -> new PreTokenizer.Bert();
            case "Digits" -> new PreTokenizer.Digits(bool(node, "individual_digits", false));
            case "Punctuation" -> {
                String behavior = optString(node, "behavior");
                SplitBehavior b = behavior == null ? SplitBehavior.ISOLATED : SplitBehavior.fromJson(behavior);
                if (b == null) {
                    throw error("Punctuation pre_tokenizer has unknown behavior \"" + behavior + "\"");
                }
                yield new PreTokenizer.Punctuation(b);
            }
            case "CharDelimiterSplit" -> new PreTokenizer.CharDelimiterSplit(codePoint(node, "delimiter", "CharDelimiterSplit pre_tokenizer"));
            case "FixedLength" -> new PreTokenizer.FixedLength(Math.max(1, node.path("length").asInt(5)));
            case "Sequence" -> {
                List<PreTokenizer> steps = new ArrayList<>();
                for (JsonNode n : array(node, "pretokenizers", "Sequence pre_tokenizer")) {
                    steps.add(preTokenizer(n));
                }
                yield new PreTokenizer.Sequence(steps);
            }
            default -> throw error("unsupported pre_tokenizer type \"" + type + "\"");
        };
    }

    /** "prepend_scheme" (default always); the older "add_prefix_space": false means never. */
    private PreTokenizer.Metaspace.PrependScheme prependScheme(JsonNode node) {
        String scheme = optString(node, "prepend_scheme");
        if (scheme == null) {
            return bool(node, "add_prefix_space", true) ? PreTokenizer.Metaspace.PrependScheme.ALWAYS
                    : PreTokenizer.Metaspace.PrependScheme.NEVER;
        }
        if (!bool(node, "add_prefix_space", true)) {
            return PreTokenizer.Metaspace.PrependScheme.NEVER;
        }
        return switch (scheme) {
            case "always" -> PreTokenizer.Metaspace.PrependScheme.ALWAYS;
            case "first" -> PreTokenizer.Metaspace.PrependScheme.FIRST;
            case "never" -> PreTokenizer.Metaspace.PrependScheme.NEVER;
            default -> throw error("Metaspace has unknown prepend_scheme \"" + scheme + "\" (expected always, first or never)");
        };
    }

    private Decoder decoder(JsonNode node) {
        String type = type(node, "decoder");
        return switch (type) {
            case "ByteLevel" -> new Decoder.ByteLevel();
            case "ByteFallback" -> new Decoder.ByteFallback();
            case "Fuse" -> new Decoder.Fuse();
            case "Strip" -> new Decoder.Strip(codePoint(node, "content", "Strip decoder"), node.path("start").asInt(0), node.path("stop").asInt(0));
            case "Replace" -> new Decoder.Replace(pattern(node, "Replace decoder"), literal(node), string(node, "content", "Replace decoder"));
            case "Metaspace" -> new Decoder.Metaspace(codePoint(node, "replacement", "Metaspace decoder"),
                    prependScheme(node) != PreTokenizer.Metaspace.PrependScheme.NEVER);
            case "BPEDecoder" -> new Decoder.BpeSuffix(node.has("suffix") ? node.get("suffix").asString() : "</w>");
            case "Sequence" -> {
                List<Decoder> steps = new ArrayList<>();
                for (JsonNode n : array(node, "decoders", "Sequence decoder")) {
                    steps.add(decoder(n));
                }
                yield new Decoder.Sequence(steps);
            }
            default -> throw error("unsupported decoder type \"" + type + "\"");
        };
    }

    private PostProcessor postProcessor(JsonNode node) {
        // Old files may leave out the type of Bert/Roberta processing (the crate tries the variants in turn).
        String type = node.has("type") ? type(node, "post_processor") : node.has("cls") ? "BertProcessing" : "";
        return switch (type) {
            case "TemplateProcessing" -> template(node);
            case "BertProcessing", "RobertaProcessing" -> new PostProcessor.ClsSep(
                    tokenPairId(node, "cls", type), tokenPairId(node, "sep", type));
            case "ByteLevel" -> new PostProcessor.Identity();
            case "Sequence" -> {
                List<PostProcessor> steps = new ArrayList<>();
                for (JsonNode n : array(node, "processors", "Sequence post_processor")) {
                    steps.add(postProcessor(n));
                }
                yield new PostProcessor.Sequence(steps);
            }
            default -> throw error("unsupported post_processor type \"" + type + "\"");
        };
    }

    private int tokenPairId(JsonNode node, String field, String section) {
        JsonNode pair = node.get(field);
        if (pair == null || !pair.isArray() || pair.size() != 2 || !pair.get(1).isIntegralNumber()) {
            throw error(section + " needs \"" + field + "\" as [token, id]");
        }
        return pair.get(1).asInt();
    }

    private PostProcessor template(JsonNode node) {
        Map<String, int[]> specials = new HashMap<>();
        JsonNode st = node.path("special_tokens");
        for (Map.Entry<String, JsonNode> e : st.properties()) {
            JsonNode idsNode = e.getValue().get("ids");
            if (idsNode == null || !idsNode.isArray()) {
                throw error("TemplateProcessing special token \"" + e.getKey() + "\" needs an \"ids\" array");
            }
            int[] ids = new int[idsNode.size()];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = idsNode.get(i).asInt();
            }
            specials.put(e.getKey(), ids);
        }
        List<PostProcessor.Template.Item> items = new ArrayList<>();
        JsonNode single = node.get("single");
        if (single != null && single.isString()) {
            // The string form "<s> $A" of the Python API.
            for (String part : single.stringValue().trim().split("\\s+")) {
                String name = part.replaceFirst(":\\d+$", "");
                items.add(name.startsWith("$") ? new PostProcessor.Template.Item(null) : new PostProcessor.Template.Item(name));
            }
        } else if (single != null && single.isArray()) {
            for (JsonNode piece : single) {
                if (piece.has("SpecialToken")) {
                    items.add(new PostProcessor.Template.Item(string(piece.get("SpecialToken"), "id", "TemplateProcessing")));
                } else if (piece.has("Sequence")) {
                    items.add(new PostProcessor.Template.Item(null));
                } else {
                    throw error("TemplateProcessing \"single\" items must be SpecialToken or Sequence");
                }
            }
        } else {
            throw error("TemplateProcessing needs a \"single\" template");
        }
        for (PostProcessor.Template.Item item : items) {
            if (item.specialTokenKey() != null && !specials.containsKey(item.specialTokenKey())) {
                throw error("TemplateProcessing uses \"" + item.specialTokenKey() + "\", which is missing from special_tokens");
            }
        }
        return new PostProcessor.Template(items, specials);
    }

    private Map<String, Integer> vocab(JsonNode model) {
        JsonNode v = model.get("vocab");
        if (v == null || !v.isObject()) {
            throw error("model has no \"vocab\" object (token to id)");
        }
        Map<String, Integer> vocab = new HashMap<>(v.size() * 2);
        for (Map.Entry<String, JsonNode> e : v.properties()) {
            if (!e.getValue().isIntegralNumber() || e.getValue().asInt() < 0) {
                throw error("model vocab entry \"" + e.getKey() + "\" must map to a non-negative integer id");
            }
            vocab.put(e.getKey(), e.getValue().asInt());
        }
        return vocab;
    }

    private BpeModel model(JsonNode model) {
        // Very old files leave out the model type; the crate then tries each model in turn.
        String type = model.has("type") ? type(model, "model") : model.has("merges") ? "BPE" : "";
        if (!type.equals("BPE")) {
            throw error("unsupported model type \"" + type + "\" (expected BPE)");
        }
        Map<String, Integer> vocab = vocab(model);
        JsonNode mergesNode = model.get("merges");
        if (mergesNode == null || !mergesNode.isArray()) {
            throw error("BPE model has no \"merges\" array");
        }
        List<String[]> merges = new ArrayList<>(mergesNode.size());
        int rank = 0;
        for (JsonNode m : mergesNode) {
            rank++;
            if (m.isString()) {
                String line = m.stringValue();
                if (line.startsWith("#version")) {
                    continue;
                }
                String[] parts = line.split(" ", -1);
                if (parts.length != 2) {
                    throw error("BPE merge " + rank + " \"" + line + "\" must be two tokens separated by one space");
                }
                merges.add(parts);
            } else if (m.isArray() && m.size() == 2 && m.get(0).isString() && m.get(1).isString()) {
                merges.add(new String[] {m.get(0).stringValue(), m.get(1).stringValue()});
            } else {
                throw error("BPE merge " + rank + " must be \"a b\" or [\"a\", \"b\"]");
            }
        }
        BpeModel.Options options = new BpeModel.Options(optString(model, "unk_token"),
                optString(model, "continuing_subword_prefix"), optString(model, "end_of_word_suffix"),
                bool(model, "fuse_unk", false), bool(model, "byte_fallback", false), bool(model, "ignore_merges", false));
        try {
            return new BpeModel(vocab, merges, options);
        } catch (IllegalArgumentException e) {
            throw error("BPE " + e.getMessage());
        }
    }

    private List<AddedToken> addedTokens(JsonNode node) {
        List<AddedToken> out = new ArrayList<>();
        if (nullable(node)) {
            return out;
        }
        if (!node.isArray()) {
            throw error("\"added_tokens\" must be an array");
        }
        for (JsonNode t : node) {
            String content = string(t, "content", "added token");
            boolean special = bool(t, "special", false);
            out.add(new AddedToken(content, bool(t, "single_word", false), bool(t, "lstrip", false),
                    bool(t, "rstrip", false), bool(t, "normalized", !special), special));
        }
        return out;
    }
}
