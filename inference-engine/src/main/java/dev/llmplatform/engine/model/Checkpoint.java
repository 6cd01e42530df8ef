package dev.llmplatform.engine.model;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.JsonNode;

/**
 * A Hugging Face checkpoint directory: {@code config.json}, optional {@code generation_config.json}, and weights in
 * {@code model.safetensors} or shards listed by {@code model.safetensors.index.json}. All shards are memory-mapped
 * into one shared arena that lives as long as the checkpoint.
 */
public final class Checkpoint implements AutoCloseable {
    private final Path dir;
    private final ModelConfig config;
    private final GenerationConfig generationConfig;
    private final Map<String, Tensor> tensors;
    private final Arena arena;

    private Checkpoint(Path dir, ModelConfig config, GenerationConfig generationConfig, Map<String, Tensor> tensors, Arena arena) {
        this.dir = dir;
        this.config = config;
        this.generationConfig = generationConfig;
        this.tensors = tensors;
        this.arena = arena;
    }

    /**
     * A checkpoint assembled by another loader ({@link GgufCheckpoint}): {@code source} names it in messages, the
     * tensors carry Hugging Face names, and {@code arena} (which holds their mappings) closes with it.
     */
    public static Checkpoint of(Path source, ModelConfig config, GenerationConfig generationConfig, Map<String, Tensor> tensors,
                                Arena arena) {
        return new Checkpoint(source, config, generationConfig, tensors, arena);
    }

    /** Opens a checkpoint directory, or a GGUF file (or a directory holding one and no config.json). */
    public static Checkpoint open(Path dir) {
        Path gguf = GgufCheckpoint.find(dir);
        if (gguf != null) {
            return GgufCheckpoint.open(gguf).checkpoint();
        }
        if (!Files.isDirectory(dir)) {
            throw new ModelLoadException("model directory " + dir + " does not exist or is not a directory");
        }
        ModelConfig config = ModelConfig.read(dir.resolve("config.json"));
        GenerationConfig gen = GenerationConfig.read(dir.resolve("generation_config.json"));
        Arena arena = Arena.ofShared();
        try {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Path shard : shardFiles(dir)) {
                SafetensorsFile f = SafetensorsFile.open(shard, arena);
                for (Tensor t : f.tensors().values()) {
                    Tensor earlier = tensors.putIfAbsent(t.name(), t);
                    if (earlier != null) {
                        throw new ModelLoadException("tensor " + t.name() + " appears in both " + earlier.file().getFileName()
                                + " and " + shard.getFileName() + "; each tensor must be stored once");
                    }
                }
            }
            return new Checkpoint(dir, config, gen, tensors, arena);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static List<Path> shardFiles(Path dir) {
        Path single = dir.resolve("model.safetensors");
        Path index = dir.resolve("model.safetensors.index.json");
        if (Files.isRegularFile(index)) {
            JsonNode map = ModelConfig.readJson(index, "weight index").path("weight_map");
            if (!map.isObject() || map.isEmpty()) {
                throw new ModelLoadException("weight index " + index + " has no \"weight_map\" object");
            }
            List<Path> shards = new ArrayList<>();
            for (Map.Entry<String, JsonNode> e : map.properties()) {
                Path shard = dir.resolve(e.getValue().asString());
                if (!shard.normalize().startsWith(dir.normalize())) {
                    throw new ModelLoadException("weight index " + index + " names a shard outside the model directory: " + e.getValue());
                }
                if (!shards.contains(shard)) {
                    if (!Files.isRegularFile(shard)) {
                        throw new ModelLoadException("weight shard " + shard + " (listed in " + index + " for tensor "
                                + e.getKey() + ") does not exist");
                    }
                    shards.add(shard);
                }
            }
            return shards;
        }
        if (Files.isRegularFile(single)) {
            return List.of(single);
        }
        throw new ModelLoadException("model directory " + dir + " has no model.safetensors nor model.safetensors.index.json");
    }

    public Path dir() {
        return dir;
    }

    public ModelConfig config() {
        return config;
    }

    public GenerationConfig generationConfig() {
        return generationConfig;
    }

    public Map<String, Tensor> tensors() {
        return tensors;
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    /** The tensor {@code name}, checked against the shape the config implies. */
    public Tensor tensor(String name, long... expectedShape) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new ModelLoadException("tensor " + name + " is missing from the checkpoint in " + dir
                    + " (expected shape " + Arrays.toString(expectedShape) + ")");
        }
        if (!Arrays.equals(t.shape(), expectedShape)) {
            throw new ModelLoadException("tensor " + name + " in " + t.file().getFileName() + " has shape " + t.shapeString()
                    + ", but config.json implies " + Arrays.toString(expectedShape));
        }
        return t;
    }

    /** Like {@link #tensor} but returns null when absent (optional biases). */
    public Tensor optional(String name, long... expectedShape) {
        return tensors.containsKey(name) ? tensor(name, expectedShape) : null;
    }

    /** Total bytes of all weights (what one decode step reads, roughly). */
    public long weightBytes() {
        long n = 0;
        for (Tensor t : tensors.values()) {
            n += t.data().byteSize();
        }
        return n;
    }

    public Map<String, Tensor> byPrefix(String prefix) {
        Map<String, Tensor> out = new HashMap<>();
        tensors.forEach((k, v) -> {
            if (k.startsWith(prefix)) {
                out.put(k, v);
            }
        });
        return out;
    }

    @Override
    public void close() {
        arena.close();
    }
}
