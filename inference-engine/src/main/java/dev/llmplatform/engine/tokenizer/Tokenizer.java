package dev.llmplatform.engine.tokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A Hugging Face tokenizer read from {@code tokenizer.json} (plus {@code tokenizer_config.json} for special
 * tokens and the chat template), giving the same ids as the Rust {@code tokenizers} crate.
 *
 * <p>Encoding runs the crate's pipeline: cut out added tokens, normalize, pre-tokenize, BPE, post-process.
 * {@link #encode(String)} adds special tokens only where the file's post_processor says so (Llama 2 style
 * TemplateProcessing adds {@code <s>}); files without one (GPT-2, Llama 3 "ByteLevel", the kjv-demo model)
 * add nothing, and a caller that wants a BOS there uses {@link #prependBos(int[])}. Instances are immutable
 * and thread-safe.
 */
public final class Tokenizer {

    private final Normalizer normalizer;
    private final PreTokenizer preTokenizer;
    private final BpeModel model;
    private final AddedVocabulary added;
    private final PostProcessor postProcessor;
    private final Decoder decoder;
    private final int vocabSize;
    private final SpecialTokens specialTokens;
    private final ChatTemplate chatTemplate;

    private Tokenizer(TokenizerJsonParser.Parts parts, TokenizerConfig config) {
        this.normalizer = parts.normalizer();
        this.preTokenizer = parts.preTokenizer();
        this.model = parts.model();
        this.postProcessor = parts.postProcessor();
        this.decoder = parts.decoder();
        this.added = new AddedVocabulary(parts.addedTokens(), model, parts.modelVocabEntries(), normalizer);
        this.vocabSize = Math.max(model.idLimit(), added.maxId() + 1);
        this.specialTokens = SpecialTokens.of(config.token("bos_token"), config.token("eos_token"),
                config.token("unk_token"), config.token("pad_token"), this);
        this.chatTemplate = config.chatTemplate() == null ? null : new ChatTemplate(config.chatTemplate(), config.tokenStrings());
    }

    /**
     * Reads {@code modelDir/tokenizer.json} and, when present, {@code tokenizer_config.json}. A
     * {@code chat_template.jinja} (or {@code chat_template.json}) file, as newer transformers versions save,
     * takes precedence over the config's {@code chat_template}.
     */
    public static Tokenizer load(Path modelDir) {
        Path tokenizerFile = modelDir.resolve("tokenizer.json");
        if (!Files.isRegularFile(tokenizerFile)) {
            throw new TokenizerException(tokenizerFile + " does not exist (expected a Hugging Face tokenizer.json)");
        }
        TokenizerConfig config = TokenizerConfig.EMPTY;
        Path configFile = modelDir.resolve("tokenizer_config.json");
        if (Files.isRegularFile(configFile)) {
            config = TokenizerConfig.parse(read(configFile), configFile.toString());
        }
        Path jinja = modelDir.resolve("chat_template.jinja");
        Path templateJson = modelDir.resolve("chat_template.json");
        if (Files.isRegularFile(jinja)) {
            config = config.withChatTemplate(read(jinja));
        } else if (Files.isRegularFile(templateJson)) {
            var root = TokenizerJsonParser.readObject(read(templateJson), templateJson.toString());
            config = config.withChatTemplate(TokenizerConfig.chatTemplate(root.get("chat_template"), templateJson.toString()));
        }
        return new Tokenizer(TokenizerJsonParser.parse(read(tokenizerFile), tokenizerFile.toString()), config);
    }

    /** Builds a tokenizer from the contents of tokenizer.json and, optionally, tokenizer_config.json. */
    public static Tokenizer fromJson(String tokenizerJson, String tokenizerConfigJsonOrNull) {
        TokenizerConfig config = tokenizerConfigJsonOrNull == null ? TokenizerConfig.EMPTY
                : TokenizerConfig.parse(tokenizerConfigJsonOrNull, "tokenizer_config.json");
        return new Tokenizer(TokenizerJsonParser.parse(tokenizerJson, "tokenizer.json"), config);
    }

    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new TokenizerException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** Encodes with special tokens, like {@code tokenizer(text, add_special_tokens=True)}. */
    public int[] encode(String text) {
        return encode(text, true);
    }

    /** Encodes {@code text}; added/special tokens written in the text are always recognised. */
    public int[] encode(String text, boolean addSpecialTokens) {
        List<Piece> pieces = added.extractAndNormalize(text, normalizer);
        if (preTokenizer != null) {
            pieces = preTokenizer.apply(pieces);
        }
        int[] ids = new int[Math.max(16, text.length())];
        int n = 0;
        for (Piece p : pieces) {
            int[] part = p.isFinal() ? p.ids() : model.tokenize(p.text());
            if (n + part.length > ids.length) {
                ids = java.util.Arrays.copyOf(ids, Math.max(ids.length * 2, n + part.length));
            }
            System.arraycopy(part, 0, ids, n, part.length);
            n += part.length;
        }
        ids = java.util.Arrays.copyOf(ids, n);
        return postProcessor == null ? ids : postProcessor.process(ids, addSpecialTokens);
    }

    /** {@code ids} with the config's BOS id in front, unless there is no BOS or {@code ids} already starts with it. */
    public int[] prependBos(int[] ids) {
        OptionalInt bos = specialTokens.bosId();
        if (bos.isEmpty() || (ids.length > 0 && ids[0] == bos.getAsInt())) {
            return ids;
        }
        int[] out = new int[ids.length + 1];
        out[0] = bos.getAsInt();
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /** Decodes keeping special tokens, like {@code tokenizer.decode(ids, skip_special_tokens=False)}. */
    public String decode(int[] ids) {
        return decode(ids, false);
    }

    /**
     * Decodes ids to text through the file's decoder. Ids inside the vocabulary range that name no token are
     * skipped, as the crate does; ids outside it are an error.
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        return decode(ids, 0, ids.length, skipSpecialTokens);
    }

    String decode(int[] ids, int from, int to, boolean skipSpecialTokens) {
        List<String> tokens = new ArrayList<>(to - from);
        for (int i = from; i < to; i++) {
            int id = ids[i];
            if (id < 0 || id >= vocabSize) {
                throw new TokenizerException("token id " + id + " is outside the vocabulary (vocab size " + vocabSize + ")");
            }
            String token = added.decodeForm(id);
            if (token == null) {
                token = model.idToToken(id);
            }
            if (token == null || (skipSpecialTokens && added.isSpecialContent(token))) {
                continue;
            }
            tokens.add(token);
        }
        return decoder == null ? String.join(" ", tokens) : decoder.decode(tokens);
    }

    /** Highest id + 1 over the model vocabulary and the added tokens. */
    public int vocabSize() {
        return vocabSize;
    }

    /** The id of a token string (an added token's content or a model vocabulary entry). */
    public OptionalInt tokenId(String token) {
        Integer id = added.tokenToId(token);
        if (id == null) {
            id = model.tokenToId(token);
        }
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** The vocabulary string of an id (an added token's content), or null. */
    public String token(int id) {
        AddedToken t = added.token(id);
        return t != null ? t.content() : model.idToToken(id);
    }

    /** Whether {@code id} is an added token marked special (what {@code skip_special_tokens} drops). */
    public boolean isSpecial(int id) {
        AddedToken t = added.token(id);
        return t != null && t.special();
    }

    public SpecialTokens specialTokens() {
        return specialTokens;
    }

    public Optional<ChatTemplate> chatTemplate() {
        return Optional.ofNullable(chatTemplate);
    }

    /** A detokenizer for streaming output that keeps special tokens. */
    public StreamingDetokenizer newStreamingDetokenizer() {
        return new StreamingDetokenizer(this, false);
    }

    public StreamingDetokenizer newStreamingDetokenizer(boolean skipSpecialTokens) {
        return new StreamingDetokenizer(this, skipSpecialTokens);
    }
}
