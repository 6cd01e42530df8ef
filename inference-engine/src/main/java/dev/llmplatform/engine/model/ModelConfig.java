package dev.llmplatform.engine.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A checkpoint's {@code config.json}, with typed accessors whose errors name the file and key.
 * Architectures differ in key names (GPT-2's {@code n_embd}, Llama's {@code hidden_size}), so the accessors
 * take alternatives in order of preference.
 */
public final class ModelConfig {
    static final JsonMapper JSON = JsonMapper.builder().build();

    private final Path file;
    private final JsonNode root;

    public ModelConfig(Path file, JsonNode root) {
        this.file = file;
        this.root = root;
    }

    public static ModelConfig read(Path file) {
        return new ModelConfig(file, readJson(file, "config"));
    }

    static JsonNode readJson(Path file, String what) {
        try {
            JsonNode node = JSON.readTree(Files.readString(file));
            if (node == null || !node.isObject()) {
                throw new ModelLoadException(what + " file " + file + " does not hold a JSON object");
            }
            return node;
        } catch (NoSuchFileException e) {
            throw new ModelLoadException(what + " file " + file + " does not exist");
        } catch (IOException e) {
            throw new ModelLoadException("cannot read " + file + ": " + e.getMessage(), e);
        } catch (JacksonException e) {
            throw new ModelLoadException(what + " file " + file + " is not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    public Path file() {
        return file;
    }

    public JsonNode json() {
        return root;
    }

    public String modelType() {
        return string("model_type").orElseThrow(() -> new ModelLoadException(file + " has no \"model_type\""));
    }

    public java.util.Optional<String> string(String key) {
        JsonNode n = root.get(key);
        return n == null || n.isNull() ? java.util.Optional.empty() : java.util.Optional.of(n.asString());
    }

    public boolean has(String key) {
        JsonNode n = root.get(key);
        return n != null && !n.isNull();
    }

    /** The first present key among {@code keys}, as an int; fails naming all of them if none is present. */
    public int requireInt(String... keys) {
        OptionalInt v = optInt(keys);
        if (v.isEmpty()) {
            throw new ModelLoadException(file + " lacks " + String.join(" / ", keys) + " (an integer)");
        }
        return v.getAsInt();
    }

    public OptionalInt optInt(String... keys) {
        for (String k : keys) {
            JsonNode n = root.get(k);
            if (n != null && !n.isNull()) {
                if (!n.isNumber()) {
                    throw new ModelLoadException(file + ": \"" + k + "\" is " + n + ", expected an integer");
                }
                return OptionalInt.of(n.asInt());
            }
        }
        return OptionalInt.empty();
    }

    public int intOr(int fallback, String... keys) {
        return optInt(keys).orElse(fallback);
    }

    public OptionalDouble optDouble(String... keys) {
        for (String k : keys) {
            JsonNode n = root.get(k);
            if (n != null && !n.isNull()) {
                if (!n.isNumber()) {
                    throw new ModelLoadException(file + ": \"" + k + "\" is " + n + ", expected a number");
                }
                return OptionalDouble.of(n.asDouble());
            }
        }
        return OptionalDouble.empty();
    }

    public double doubleOr(double fallback, String... keys) {
        return optDouble(keys).orElse(fallback);
    }

    public boolean boolOr(boolean fallback, String key) {
        JsonNode n = root.get(key);
        return n == null || n.isNull() ? fallback : n.asBoolean();
    }

    /** A nested object (e.g. MPT's {@code attn_config}) as its own config view. */
    public ModelConfig child(String key) {
        JsonNode n = root.get(key);
        return new ModelConfig(file, n != null && n.isObject() ? n : JSON.createObjectNode());
    }

    /** Token ids from a key that may hold one integer or a list (e.g. {@code eos_token_id}). */
    public List<Integer> ids(String key) {
        List<Integer> out = new ArrayList<>();
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return out;
        }
        if (n.isArray()) {
            n.forEach(x -> out.add(x.asInt()));
        } else {
            out.add(n.asInt());
        }
        return out;
    }
}
