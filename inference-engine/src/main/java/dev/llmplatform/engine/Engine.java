package dev.llmplatform.engine;

import dev.llmplatform.engine.arch.Architectures;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.GenerationConfig;
import dev.llmplatform.engine.model.GgufCheckpoint;
import dev.llmplatform.engine.model.ModelConfig;
import dev.llmplatform.engine.runtime.Generator;
import dev.llmplatform.engine.tokenizer.GgufTokenizer;
import dev.llmplatform.engine.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A loaded model directory: the decoder, its tokenizer (when the directory has one), the ids that end a sequence,
 * and the worker threads it runs on. This is what the command line and the services embed.
 */
public final class Engine implements AutoCloseable {

    /** Whether a text prompt gets the BOS token in front. */
    public enum BosPolicy {
        /**
         * As the checkpoint says: tokenizer_config.json's {@code add_bos_token} when present; otherwise the
         * tokenizer's post-processor decides, except that Llama-family models (trained with BOS first) get one when
         * their tokenizer does not add it, as llama.cpp does.
         */
        AUTO,
        ALWAYS,
        NEVER;

        public static BosPolicy parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "auto" -> AUTO;
                case "true", "always", "yes" -> ALWAYS;
                case "false", "never", "no" -> NEVER;
                default -> throw new IllegalArgumentException("add-bos is '" + s + "', expected auto, true or false");
            };
        }
    }

    private final Path dir;
    private final WorkerPool pool;
    private final DecoderModel model;
    private final Tokenizer tokenizer;
    private final Set<Integer> stopIds;
    private final Boolean addBosToken;
    private final String modelType;

    private Engine(Path dir, WorkerPool pool, DecoderModel model, Tokenizer tokenizer, Set<Integer> stopIds,
                   Boolean addBosToken, String modelType) {
        this.dir = dir;
        this.pool = pool;
        this.model = model;
        this.tokenizer = tokenizer;
        this.stopIds = stopIds;
        this.addBosToken = addBosToken;
        this.modelType = modelType;
    }

    /**
     * Loads {@code dir} on {@code threads} worker threads (the number of cores when 0): a Hugging Face checkpoint
     * directory, an engine directory written by {@code build}, or a llama.cpp GGUF file (or a directory holding one).
     */
    public static Engine load(Path dir, int threads) {
        WorkerPool pool = new WorkerPool(threads > 0 ? threads : WorkerPool.defaultThreads());
        try {
            Path gguf = GgufCheckpoint.find(dir);
            if (gguf != null) {
                return loadGguf(gguf, pool);
            }
            DecoderModel model = Architectures.load(dir, pool);
            Tokenizer tokenizer = Files.isRegularFile(dir.resolve("tokenizer.json")) ? Tokenizer.load(dir) : null;
            ModelConfig config = ModelConfig.read(dir.resolve("config.json"));
            GenerationConfig gen = GenerationConfig.read(dir.resolve("generation_config.json"));
            Set<Integer> stop = new LinkedHashSet<>(gen.eosTokenIds());
            stop.addAll(config.ids("eos_token_id"));
            if (tokenizer != null) {
                tokenizer.specialTokens().eosId().ifPresent(stop::add);
            }
            Boolean addBos = null;
            Path tc = dir.resolve("tokenizer_config.json");
            if (Files.isRegularFile(tc)) {
                ModelConfig tokConfig = ModelConfig.read(tc);
                if (tokConfig.has("add_bos_token")) {
                    addBos = tokConfig.boolOr(false, "add_bos_token");
                }
            }
            return new Engine(dir, pool, model, tokenizer, Set.copyOf(stop), addBos, config.modelType());
        } catch (RuntimeException e) {
            pool.close();
            throw e;
        }
    }

    /** A GGUF file: the tokenizer, its BOS rule and the end-of-generation ids come from the file's metadata. */
    private static Engine loadGguf(Path file, WorkerPool pool) {
        GgufCheckpoint g = GgufCheckpoint.open(file);
        try {
            DecoderModel model = Architectures.load(g.checkpoint(), pool);
            Map<String, Object> md = g.file().metadata();
            Tokenizer tokenizer = GgufTokenizer.fromMetadata(md);
            Set<Integer> stop = new LinkedHashSet<>(GgufTokenizer.endOfGenerationIds(md));
            return new Engine(file, pool, model, tokenizer, Set.copyOf(stop), GgufTokenizer.addBosToken(md),
                    g.checkpoint().config().modelType());
        } catch (RuntimeException e) {
            g.checkpoint().close();
            throw e;
        }
    }

    public Path dir() {
        return dir;
    }

    public DecoderModel model() {
        return model;
    }

    public Optional<Tokenizer> tokenizer() {
        return Optional.ofNullable(tokenizer);
    }

    /** Tokenizer or a clear error for checkpoints without one. */
    public Tokenizer requireTokenizer() {
        if (tokenizer == null) {
            throw new IllegalArgumentException("model directory " + dir + " has no tokenizer.json: give token ids instead of text");
        }
        return tokenizer;
    }

    /** Ids that end generation: generation_config.json's and config.json's eos_token_id, and the tokenizer's EOS. */
    public Set<Integer> stopIds() {
        return stopIds;
    }

    public Generator generator() {
        return new Generator(model);
    }

    /** Encodes a text prompt, with BOS per {@code policy}. */
    public int[] encodePrompt(String text, BosPolicy policy) {
        Tokenizer tok = requireTokenizer();
        int[] ids = tok.encode(text, true);
        boolean bos = switch (policy) {
            case ALWAYS -> true;
            case NEVER -> false;
            case AUTO -> addBosToken != null ? addBosToken : Set.of("llama", "mistral").contains(modelType);
        };
        return bos ? tok.prependBos(ids) : ids;
    }

    @Override
    public void close() throws Exception {
        model.close();
        pool.close();
    }
}
