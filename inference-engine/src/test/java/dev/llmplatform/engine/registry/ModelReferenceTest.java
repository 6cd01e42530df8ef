package dev.llmplatform.engine.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** How users name a registry version on the command line. */
class ModelReferenceTest {
    @Test
    void shouldReadVersionNumbersAndAliasesAndDefaultToStable() {
        assertEquals(new ModelReference("kjv-demo", "3"), ModelReference.parse("kjv-demo@3"));
        assertEquals(new ModelReference("kjv-demo", "canary"), ModelReference.parse("kjv-demo@canary"));
        assertEquals(new ModelReference("llama-3.2-1b", "stable"), ModelReference.parse("llama-3.2-1b"));
        assertEquals("kjv-demo@latest", ModelReference.parse("kjv-demo@latest").toString());
    }

    @Test
    void shouldRefuseNamesAndRefsTheRegistryWouldRefuse() {
        assertThrows(IllegalArgumentException.class, () -> ModelReference.parse("Kjv@1"));
        assertThrows(IllegalArgumentException.class, () -> ModelReference.parse("../x@1"));
        assertThrows(IllegalArgumentException.class, () -> ModelReference.parse("kjv@0"));
        assertThrows(IllegalArgumentException.class, () -> ModelReference.parse("kjv@beta"));
    }
}
