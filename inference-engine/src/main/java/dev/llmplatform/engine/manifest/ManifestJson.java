package dev.llmplatform.engine.manifest;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * Reads and writes {@value EngineManifest#FILE_NAME}. Unknown fields are ignored so that an older reader accepts a
 * manifest from a newer builder of the same format version; what is read is validated.
 */
public final class ManifestJson {
    private static final JsonMapper JSON = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            // A missing number reads as 0 so that validate() can name the field, rather than a mapping error.
            .disable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();

    private ManifestJson() {
    }

    public static EngineManifest parse(String json) {
        try {
            return JSON.readValue(json, EngineManifest.class).validate();
        } catch (JacksonException e) {
            throw new ManifestException("engine manifest is not valid JSON of the expected shape: " + e.getOriginalMessage(), e);
        }
    }

    public static EngineManifest read(InputStream in) throws IOException {
        return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }

    /** Reads a manifest file, or the {@value EngineManifest#FILE_NAME} inside a directory. */
    public static EngineManifest read(Path fileOrDirectory) throws IOException {
        Path file = Files.isDirectory(fileOrDirectory) ? fileOrDirectory.resolve(EngineManifest.FILE_NAME) : fileOrDirectory;
        try {
            return parse(Files.readString(file));
        } catch (ManifestException e) {
            throw new ManifestException(file + ": " + e.getMessage(), e);
        }
    }

    /** The manifest as indented JSON, fields in a fixed order (so equal manifests give equal bytes and digests). */
    public static String toJson(EngineManifest manifest) {
        return JSON.writeValueAsString(manifest) + "\n";
    }

    public static void write(EngineManifest manifest, OutputStream out) throws IOException {
        out.write(toJson(manifest).getBytes(StandardCharsets.UTF_8));
    }

    /** Writes {@value EngineManifest#FILE_NAME} into {@code directory}, atomically (a reader never sees half a file). */
    public static Path write(EngineManifest manifest, Path directory) throws IOException {
        Path target = directory.resolve(EngineManifest.FILE_NAME);
        Path tmp = Files.createTempFile(directory, ".engine-manifest", ".tmp");
        try {
            Files.writeString(tmp, toJson(manifest));
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return target;
    }
}
