package dev.llmplatform.inference.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ModelLocatorTest {

    @Test
    void theDefaultModelIsFoundFromTheModuleDirectory() {
        // Tests run in inference-service/; the bundled model is in ../models/kjv-demo.
        Path found = ModelLocator.resolveLocal("models/kjv-demo");
        assertThat(found).isAbsolute();
        assertThat(Files.isRegularFile(found.resolve("config.json"))).isTrue();
        assertThat(found.getParent().getParent().resolve("inference-service")).isDirectory();
    }

    @Test
    void aMissingModelNamesThePlacesLookedAt() {
        var e = assertThrows(IllegalArgumentException.class, () -> ModelLocator.resolveLocal("models/nope"));
        assertThat(e.getMessage()).contains("llm.inference.model").contains("models/nope");
        e = assertThrows(IllegalArgumentException.class, () -> ModelLocator.resolveLocal("/definitely/not/here"));
        assertThat(e.getMessage()).contains("/definitely/not/here");
    }
}
