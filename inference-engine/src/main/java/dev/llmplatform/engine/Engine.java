package dev.llmplatform.engine;

import dev.llmplatform.engine.arch.Architectures;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.arch.ModelRunner;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.GenerationConfig;
import dev.llmplatform.engine.model.GgufCheckpoint;
import dev.llmplatform.engine.model.ModelConfig;
import dev.llmplatform.engine.parallel.TensorParallel;
import dev.llmplatform.engine.parallel.TensorParallelModel;
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
 *
 * <p>Split over tensor-parallel ranks ({@link #load(Path, int, int)}), the model is a {@link TensorParallelModel}:
 * {@link #runner()} is what runs it; {@link #model()} exists only for the unsplit model.
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
    private final TensorParallelModel parallel;
    private final Tokenizer tokenizer;
    private final Set<Integer> stopIds;
    private final Boolean addBosToken;
    private final String modelType;

    private Engine(Path dir, WorkerPool pool, ModelRunner runner, Tokenizer tokenizer, Set<Integer> stopIds,
                   Boolean addBosToken, String modelType) {
        this.dir = dir;
        this.pool = pool;
        this.model = runner instanceof DecoderModel d ? d : null;
        this.parallel = runner instanceof TensorParallelModel p ? p : null;
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
        return load(dir, threads, 0);
    }

    /**
     * Loads {@code dir} split over {@code tensorParallelSize} ranks (0: as built, which is 1 unless the engine was
     * built with {@code --tp}). A checkpoint, a single-file engine or a GGUF file is sharded as it loads; an engine
     * built with {@code --tp N} loads at N only, reading its rank files. Ranks share the {@code threads} worker
     * threads (all cores when 0).
     *
     * @throws IllegalArgumentException when the size does not fit the model (heads, MLP width, quantization groups)
     *                                  or differs from a built engine's
     */
    public static Engine load(Path dir, int threads, int tensorParallelSize) {
        int total = threads > 0 ? threads : WorkerPool.defaultThreads();
        if (tensorParallelSize < 0) {
            throw new IllegalArgumentException("tensor-parallel size must be at least 1, got " + tensorParallelSize);
        }
        int built = TensorParallel.builtSize(dir);
        if (built > 0 && tensorParallelSize > 0 && tensorParallelSize != built) {
            throw new IllegalArgumentException("the engine in " + dir + " was built for tensor-parallel size " + built
                    + "; load it at " + built + ", or build it again with --tp " + tensorParallelSize);
        }
        int tp = built > 0 ? built : Math.max(1, tensorParallelSize);
        // The ranks bring their own worker threads; the whole model is then only loaded, to be cut.
        WorkerPool pool = new WorkerPool(tp > 1 ? 1 : total);
        try {
            Path gguf = GgufCheckpoint.find(dir);
            if (gguf != null) {
                return loadGguf(gguf, pool, tp, total);
            }
            ModelRunner model = built > 0 ? TensorParallel.loadBuilt(dir, total) : split(Architectures.load(dir, pool), tp, total);
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
    private static Engine loadGguf(Path file, WorkerPool pool, int tp, int threads) {
        GgufCheckpoint g = GgufCheckpoint.open(file);
        // Loading and splitting close the checkpoint themselves when they fail.
        ModelRunner model = split(Architectures.load(g.checkpoint(), pool), tp, threads);
        try {
            Map<String, Object> md = g.file().metadata();
            Tokenizer tokenizer = GgufTokenizer.fromMetadata(md);
            Set<Integer> stop = new LinkedHashSet<>(GgufTokenizer.endOfGenerationIds(md));
            return new Engine(file, pool, model, tokenizer, Set.copyOf(stop), GgufTokenizer.addBosToken(md),
                    g.checkpoint().config().modelType());
        } catch (RuntimeException e) {
            try {
                model.close();
            } catch (Exception suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** The model unsplit, or over {@code tp} ranks (closing the whole model when the split fails). */
    private static ModelRunner split(DecoderModel full, int tp, int threads) {
        if (tp == 1) {
            return full;
        }
        try {
            return TensorParallel.shard(full, tp, threads);
        } catch (RuntimeException e) {
            try {
                full.close();
            } catch (Exception suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    public Path dir() {
        return dir;
    }

    /** config.json's (or the GGUF file's) {@code model_type}, e.g. {@code llama}. */
    public String modelType() {
        return modelType;
    }

    /**
     * The unsplit model.
     *
     * @throws IllegalStateException when the engine is split over tensor-parallel ranks: use {@link #runner()}
     */
    public DecoderModel model() {
        if (model == null) {
            throw new IllegalStateException(dir + " is split over " + tensorParallelSize()
                    + " tensor-parallel ranks, which only runner() runs");
        }
        return model;
    }

    /** What computes the model: the decoder, or the tensor-parallel group of its ranks. */
    public ModelRunner runner() {
        return model != null ? model : parallel;
    }

    public int tensorParallelSize() {
        return parallel == null ? 1 : parallel.tensorParallelSize();
    }

    /** Bytes of weights one decode step reads, over all ranks. */
    public long weightBytesPerToken() {
        if (model != null) {
            return model.weightBytesPerToken();
        }
        return parallel.ranks().stream().mapToLong(DecoderModel::weightBytesPerToken).sum();
    }

    /** Bytes of weights one decode step reads on the busiest rank (all of them when unsplit). */
    public long weightBytesPerTokenPerRank() {
        return model != null ? model.weightBytesPerToken() : parallel.weightBytesPerTokenPerRank();
    }

    /** Bytes of KV memory per position, over all ranks. */
    public long kvBytesPerPosition() {
        return model != null ? model.kvBytesPerPosition() : parallel.kvBytesPerPosition();
    }

    /** The storage format of the decoder's projection matrices ({@code bf16}, {@code int8}, {@code q4_0}...). */
    public String weightFormat() {
        DecoderModel m = model != null ? model : parallel.rank(0);
        return m.weights().layers()[0].wo().format().name().toLowerCase(Locale.ROOT);
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

    /** Single-sequence generation through {@link #runner()} (split or not). */
    public Generator generator() {
        return new Generator(runner());
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
        try {
            runner().close();
        } finally {
            pool.close();
        }
    }
}
