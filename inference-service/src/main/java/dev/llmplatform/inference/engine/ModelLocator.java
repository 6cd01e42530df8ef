package dev.llmplatform.inference.engine;

import dev.llmplatform.engine.registry.ModelReference;
import dev.llmplatform.engine.registry.PullResult;
import dev.llmplatform.engine.registry.RegistryClient;
import dev.llmplatform.engine.registry.VersionInfo;
import dev.llmplatform.inference.config.InferenceProperties;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Turns {@code llm.inference.model} into a directory (or file) the engine can load. */
public final class ModelLocator {
    private static final Logger log = LoggerFactory.getLogger(ModelLocator.class);

    /**
     * Where the model came from, and the name it is served under unless configured otherwise.
     *
     * @param registry the registry version it was pulled as, or null for a local directory
     */
    public record Located(Path path, String defaultName, String source, RegistryVersion registry) {
    }

    /** A model pulled from the registry: what the gateway matches against the registry's rollouts. */
    public record RegistryVersion(String url, String model, int version) {
    }

    private ModelLocator() {
    }

    public static Located locate(InferenceProperties props) throws IOException {
        if (props.fromRegistry()) {
            return pull(props);
        }
        Path path = resolveLocal(props.model());
        return new Located(path, defaultName(path), path.toString(), null);
    }

    /**
     * An absolute path as it is; a relative one from the working directory, then from each directory above it, then
     * from each directory above the jar or classes folder this class was loaded from.
     *
     * @throws IllegalArgumentException naming every place looked at, when none has it
     */
    public static Path resolveLocal(String model) {
        Path p = Path.of(model);
        if (p.isAbsolute()) {
            if (!Files.exists(p)) {
                throw new IllegalArgumentException("llm.inference.model: " + p + " does not exist");
            }
            return p;
        }
        List<Path> tried = new ArrayList<>();
        for (Path base : bases()) {
            for (Path dir = base; dir != null; dir = dir.getParent()) {
                Path candidate = dir.resolve(p).normalize();
                if (Files.exists(candidate)) {
                    return candidate;
                }
                tried.add(candidate);
            }
        }
        throw new IllegalArgumentException("llm.inference.model: '" + model + "' is not in the working directory or any "
                + "directory above it (looked at " + tried + ")");
    }

    private static List<Path> bases() {
        List<Path> bases = new ArrayList<>();
        bases.add(Path.of("").toAbsolutePath());
        try {
            var source = ModelLocator.class.getProtectionDomain().getCodeSource();
            if (source != null && "file".equals(source.getLocation().getProtocol())) {
                bases.add(Path.of(source.getLocation().toURI()).toAbsolutePath());
            } else if (source != null && source.getLocation().toString().startsWith("jar:nested:")) {
                // Spring Boot's executable jar: jar:nested:/path/app.jar/!BOOT-INF/classes/!/
                String s = source.getLocation().toString().substring("jar:nested:".length());
                int end = s.indexOf("/!");
                bases.add(Path.of(end < 0 ? s : s.substring(0, end)).toAbsolutePath());
            }
        } catch (URISyntaxException | RuntimeException e) {
            // only a convenience: the working directory was tried
        }
        return bases;
    }

    private static String defaultName(Path path) {
        String name = path.getFileName().toString();
        return name.endsWith(".gguf") ? name.substring(0, name.length() - ".gguf".length()) : name;
    }

    /** Pulls registry:NAME@REF into the cache directory, under NAME/VERSION (resolved once, so it cannot change). */
    private static Located pull(InferenceProperties props) throws IOException {
        ModelReference ref = ModelReference.parse(props.model().substring(InferenceProperties.REGISTRY_PREFIX.length()));
        InferenceProperties.Registry reg = props.registry();
        RegistryClient client = new RegistryClient(reg.url(), reg.token());
        VersionInfo v = client.version(ref);
        ModelReference pinned = new ModelReference(ref.model(), Integer.toString(v.version()));
        Path out = reg.cacheDirOrDefault().resolve(ref.model()).resolve(Integer.toString(v.version()));
        log.info("Pulling {} (version {}) from the registry at {} into {}", ref, v.version(), reg.url(), out);
        PullResult r = client.pull(pinned, out);
        log.info("Pulled {}@{}: {} files, {} bytes transferred", r.model(), r.version(), r.files(), r.bytesTransferred());
        return new Located(r.directory(), ref.model(), "registry " + reg.url() + " " + r.model() + "@" + r.version(),
                new RegistryVersion(String.valueOf(reg.url()), r.model(), r.version()));
    }
}
