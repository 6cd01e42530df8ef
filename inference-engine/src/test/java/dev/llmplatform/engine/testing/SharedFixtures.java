package dev.llmplatform.engine.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the shared reference fixtures (../shared beside the checkout; surefire passes -Dshared.dir). */
public final class SharedFixtures {
    private SharedFixtures() {
    }

    public static Path root() {
        String prop = System.getProperty("shared.dir");
        if (prop != null && Files.isDirectory(Path.of(prop))) {
            return Path.of(prop);
        }
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolveSibling("shared");
            if (Files.isDirectory(candidate.resolve("fixtures"))) {
                return candidate;
            }
        }
        throw new IllegalStateException("cannot find the shared fixtures folder; pass -Dshared.dir=/path/to/shared");
    }

    public static Path hfTiny(String arch) {
        return root().resolve("fixtures/hf-tiny").resolve(arch);
    }

    public static Path kjvDemo() {
        return root().resolve("models/kjv-demo");
    }

    /** The copy of kjv-demo that ships in this repository (models/kjv-demo), which the product runs by default. */
    public static Path bundledKjvDemo() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path candidate = p.resolve("models/kjv-demo");
            if (Files.isRegularFile(candidate.resolve("config.json"))) {
                return candidate;
            }
        }
        throw new IllegalStateException("cannot find models/kjv-demo in this checkout");
    }
}
