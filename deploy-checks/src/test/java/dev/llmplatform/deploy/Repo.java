package dev.llmplatform.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.dataformat.yaml.YAMLMapper;

/** The repository the deployment files live in (the build passes its root as {@code repo.dir}). */
final class Repo {
    static final Path ROOT = root();
    private static final ObjectMapper YAML = YAMLMapper.builder().build();

    /** The deployable services: the module each image is built from, by the image's name. */
    static final Map<String, String> MODULE_OF_IMAGE = Map.of(
            "llm-platform/inference-service", "inference-service",
            "llm-platform/model-registry", "model-registry-service",
            "llm-platform/gateway", "gateway-service",
            "llm-platform/admin-server", "admin-server");

    /** The services' Dockerfiles, relative to the root (the build context of every one of them). */
    static final List<String> DOCKERFILES = List.of(
            "inference-service/Dockerfile", "inference-service/Dockerfile.cuda", "model-registry-service/Dockerfile",
            "gateway-service/Dockerfile", "admin-server/Dockerfile");

    private Repo() {
    }

    private static Path root() {
        String dir = System.getProperty("repo.dir");
        Path p = dir != null ? Path.of(dir) : Path.of("").toAbsolutePath().getParent();
        if (!Files.isRegularFile(p.resolve("docker-compose.yml")) || !Files.isDirectory(p.resolve("k8s"))) {
            throw new IllegalStateException("repo.dir " + p + " is not the repository root (no docker-compose.yml or k8s/)");
        }
        return p.toAbsolutePath().normalize();
    }

    static Path path(String relative) {
        return ROOT.resolve(relative);
    }

    static String read(String relative) {
        try {
            return Files.readString(path(relative));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static JsonNode yaml(String text) {
        return YAML.readTree(text);
    }

    static JsonNode yamlFile(String relative) {
        return yaml(read(relative));
    }

    /** The module an image name (with or without registry prefix and tag) is built from, or null for third parties. */
    static String moduleOfImage(String image) {
        String name = image;
        int at = name.indexOf('@');
        if (at >= 0) {
            name = name.substring(0, at);
        }
        int colon = name.lastIndexOf(':');
        if (colon > name.lastIndexOf('/')) {
            name = name.substring(0, colon);
        }
        for (var e : MODULE_OF_IMAGE.entrySet()) {
            if (name.equals(e.getKey()) || name.endsWith("/" + e.getKey())) {
                return e.getValue();
            }
        }
        return null;
    }
}
