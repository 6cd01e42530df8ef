package dev.llmplatform.registry.blob;

import dev.llmplatform.engine.manifest.ArtifactPaths;

/**
 * The key layout: {@code models/<model>/<artifact id>/<path>}. Each upload writes under its own artifact id (a
 * UUID), so concurrent uploads of one model never touch each other's bytes, and committing a version moves nothing:
 * the version's rows point at the keys its upload wrote. Model names and paths are checked before they get here.
 */
public final class BlobKeys {
    private BlobKeys() {
    }

    public static String artifactPrefix(String model, String artifactId) {
        return "models/" + model + "/" + artifactId + "/";
    }

    public static String file(String model, String artifactId, String path) {
        return artifactPrefix(model, artifactId) + ArtifactPaths.check(path);
    }
}
