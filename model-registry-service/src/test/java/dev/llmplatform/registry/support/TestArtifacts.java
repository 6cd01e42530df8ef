package dev.llmplatform.registry.support;

import dev.llmplatform.engine.manifest.ArtifactDirectory;
import dev.llmplatform.engine.manifest.Backend;
import dev.llmplatform.engine.manifest.EngineManifest;
import dev.llmplatform.engine.manifest.ManifestJson;
import dev.llmplatform.engine.manifest.Quantization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

/** Small engine artifacts written to disk for tests: a config.json plus files of random bytes, and their manifests. */
public final class TestArtifacts {
    private static final AtomicInteger NAMES = new AtomicInteger();

    private TestArtifacts() {
    }

    /** A model name no other test uses (tests share one registry). */
    public static String uniqueModel(String stem) {
        return stem + "-" + NAMES.incrementAndGet() + "-" + Long.toString(System.nanoTime() % 100_000, 36);
    }

    public static Path directory(Path dir, long seed, Map<String, Integer> sizes) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"llama\", \"architectures\": [\"LlamaForCausalLM\"], "
                + "\"torch_dtype\": \"bfloat16\"}");
        Random random = new Random(seed);
        for (Map.Entry<String, Integer> e : sizes.entrySet()) {
            byte[] bytes = new byte[e.getValue()];
            random.nextBytes(bytes);
            Path p = dir.resolve(e.getKey());
            Files.createDirectories(p.getParent());
            Files.write(p, bytes);
        }
        return dir;
    }

    public static Path smallDirectory(Path dir, long seed) throws IOException {
        Map<String, Integer> sizes = new LinkedHashMap<>();
        sizes.put("model.safetensors", 300_000);
        sizes.put("tokenizer/tokenizer.json", 5_000);
        return directory(dir, seed, sizes);
    }

    public static ArtifactDirectory.Description cpu() {
        return new ArtifactDirectory.Description(null, Backend.CPU, null, Quantization.NONE, "any", 1, "registry-tests");
    }

    public static EngineManifest manifest(Path dir) throws IOException {
        return ArtifactDirectory.describe(dir, cpu());
    }

    public static String manifestJson(Path dir) throws IOException {
        return ManifestJson.toJson(manifest(dir));
    }
}
