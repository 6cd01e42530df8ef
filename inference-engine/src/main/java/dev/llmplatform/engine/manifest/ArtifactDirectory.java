package dev.llmplatform.engine.manifest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A directory holding an engine artifact or a checkpoint: lists its files with digests, describes it as a manifest,
 * and checks it against one. Hidden files (names starting with '.', such as {@code .gitattributes} or a half-done
 * download) and {@value EngineManifest#FILE_NAME} are not part of the artifact. Symbolic links to files are followed,
 * as in a Hugging Face cache snapshot.
 */
public final class ArtifactDirectory {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private ArtifactDirectory() {
    }

    /**
     * What the caller says about an artifact that its files do not: where it runs and how it was built.
     * {@code dtype} null means "read it from config.json".
     */
    public record Description(String sourceName, Backend backend, String dtype, Quantization quantization,
                              String targetHardware, int tensorParallelSize, String builderVersion) {
    }

    /** The artifact's files, sorted by path, each hashed (reads every byte once). */
    public static List<ManifestFile> scan(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new ManifestException(dir + " is not a directory");
        }
        List<Path> paths;
        try (Stream<Path> walk = Files.walk(dir)) {
            paths = walk.filter(p -> !p.equals(dir)).filter(p -> !isHidden(dir.relativize(p)))
                    .filter(Files::isRegularFile).sorted(Comparator.comparing(p -> relative(dir, p))).toList();
        }
        List<ManifestFile> files = new ArrayList<>();
        for (Path p : paths) {
            String rel = relative(dir, p);
            if (rel.equals(EngineManifest.FILE_NAME)) {
                continue;
            }
            ArtifactPaths.check(rel);
            files.add(new ManifestFile(rel, Files.size(p), FileDigests.sha256(p)));
        }
        if (files.isEmpty()) {
            throw new ManifestException(dir + " has no files");
        }
        return files;
    }

    /**
     * A manifest for a checkpoint directory: files and digests from {@link #scan}, architecture, model type and (unless
     * given) dtype from its {@code config.json}, the rest from {@code description}. The source digest is the tree
     * digest of the files, so a checkpoint pushed as-is is its own source.
     */
    public static EngineManifest describe(Path dir, Description description) throws IOException {
        List<ManifestFile> files = scan(dir);
        Path config = dir.resolve("config.json");
        if (!Files.isRegularFile(config)) {
            throw new ManifestException(dir + " has no config.json to read the architecture from");
        }
        JsonNode c = JSON.readTree(Files.readString(config));
        String modelType = c.path("model_type").asString("");
        String architecture = c.path("architectures").path(0).asString(modelType);
        String dtype = description.dtype() != null ? description.dtype()
                : shortDtype(c.path("dtype").asString(c.path("torch_dtype").asString("float32")));
        String name = description.sourceName() != null ? description.sourceName() : dir.toAbsolutePath().normalize().getFileName().toString();
        return new EngineManifest(EngineManifest.FORMAT_VERSION, new SourceCheckpoint(name, FileDigests.treeDigest(files)),
                architecture, modelType, description.backend(), dtype, description.quantization(),
                description.targetHardware(), description.tensorParallelSize(), description.builderVersion(), files).validate();
    }

    /** Checks that every file the manifest lists is in {@code dir} with that size and sha256; throws naming the first that is not. */
    public static void verify(EngineManifest manifest, Path dir) throws IOException {
        for (ManifestFile f : manifest.files()) {
            Path p = resolve(dir, f.path());
            if (!Files.isRegularFile(p)) {
                throw new ManifestException(f.path() + ": listed in the manifest but missing from " + dir);
            }
            long size = Files.size(p);
            if (size != f.size()) {
                throw new ManifestException(f.path() + ": size " + size + " bytes, manifest says " + f.size());
            }
            String actual = FileDigests.sha256(p);
            if (!actual.equals(f.sha256())) {
                throw new ManifestException(f.path() + ": sha256 " + actual + ", manifest says " + f.sha256());
            }
        }
    }

    /** {@code dir/path} for a checked artifact path; refuses anything that would land outside {@code dir}. */
    public static Path resolve(Path dir, String path) {
        ArtifactPaths.check(path);
        Path root = dir.toAbsolutePath().normalize();
        Path p = root.resolve(path).normalize();
        if (!p.startsWith(root)) {
            throw new ManifestException("file path '" + path + "' escapes " + dir);
        }
        return p;
    }

    /** Hugging Face's dtype names ({@code bfloat16}) as the engine spells them ({@code bf16}). */
    static String shortDtype(String hf) {
        return switch (hf.toLowerCase(Locale.ROOT)) {
            case "bfloat16", "bf16" -> "bf16";
            case "float16", "half", "f16", "fp16" -> "f16";
            case "float32", "float", "f32", "fp32" -> "f32";
            default -> hf;
        };
    }

    private static boolean isHidden(Path relative) {
        for (Path part : relative) {
            if (part.toString().startsWith(".")) {
                return true;
            }
        }
        return false;
    }

    private static String relative(Path dir, Path p) {
        return dir.relativize(p).toString().replace(p.getFileSystem().getSeparator(), "/");
    }
}
