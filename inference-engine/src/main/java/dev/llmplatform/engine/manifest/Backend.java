package dev.llmplatform.engine.manifest;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** Where a built engine runs. Serialised in lower case ({@code cpu}, {@code cuda}, {@code tensorrt}). */
public enum Backend {
    CPU, CUDA, TENSORRT;

    @JsonValue
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    @JsonCreator
    public static Backend parse(String s) {
        for (Backend b : values()) {
            if (b.id().equalsIgnoreCase(s)) {
                return b;
            }
        }
        throw new ManifestException("unknown backend '" + s + "' (expected cpu, cuda or tensorrt)");
    }
}
