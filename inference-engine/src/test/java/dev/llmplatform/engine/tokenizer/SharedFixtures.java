package dev.llmplatform.engine.tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** Locates the shared reference data (surefire sets shared.dir; from an IDE the module dir is the cwd). */
final class SharedFixtures {

    static final JsonMapper JSON = JsonMapper.builder().build();

    private SharedFixtures() {
    }

    static Path sharedDir() {
        String prop = System.getProperty("shared.dir");
        Path dir = prop != null ? Path.of(prop) : Path.of("../../shared");
        if (!Files.isDirectory(dir)) {
            throw new IllegalStateException("shared folder not found at " + dir.toAbsolutePath());
        }
        return dir;
    }

    static Path kjvDir() {
        return sharedDir().resolve("models/kjv-demo");
    }

    static JsonNode kjvReference() throws Exception {
        return JSON.readTree(Files.readString(kjvDir().resolve("reference.json")));
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }
}
