package dev.llmplatform.engine.registry;

import dev.llmplatform.engine.manifest.ArtifactDirectory;
import dev.llmplatform.engine.manifest.EngineManifest;
import dev.llmplatform.engine.manifest.ManifestFile;
import dev.llmplatform.engine.manifest.ManifestJson;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import tools.jackson.databind.JsonNode;

/**
 * Pushes a directory as a new version: opens an upload with the manifest, streams each file from disk (the
 * registry checks size and sha256 as the bytes arrive), then commits, which is when the version appears. Any
 * failure aborts the upload so the registry keeps nothing of it.
 */
final class ArtifactPusher {
    private final RegistryHttp http;

    ArtifactPusher(RegistryHttp http) {
        this.http = http;
    }

    /**
     * The manifest for {@code dir}: its own {@value EngineManifest#FILE_NAME} when it has one (a built engine; its files
     * are checked against it), else one described from the checkpoint's files and {@code description}.
     */
    static EngineManifest manifestFor(Path dir, ArtifactDirectory.Description description) throws IOException {
        if (Files.isRegularFile(dir.resolve(EngineManifest.FILE_NAME))) {
            EngineManifest m = ManifestJson.read(dir);
            ArtifactDirectory.verify(m, dir);
            return m;
        }
        return ArtifactDirectory.describe(dir, description);
    }

    PushResult push(Path dir, String model, EngineManifest manifest) throws IOException {
        new ModelReference(model, "latest"); // checks the name before anything is sent
        JsonNode upload = http.sendJson(http.request("/v1/registry/models/" + model + "/uploads")
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(ManifestJson.toJson(manifest))).build());
        String uploadId = upload.path("upload_id").asString();
        boolean committed = false;
        try {
            for (ManifestFile f : manifest.files()) {
                Path file = ArtifactDirectory.resolve(dir, f.path());
                // ofFile streams from disk with a Content-Length: a multi-GB shard never sits in memory.
                http.sendDiscarding(http.request("/v1/registry/uploads/" + uploadId + "/files/" + f.path())
                        .header("Content-Type", "application/octet-stream")
                        .PUT(HttpRequest.BodyPublishers.ofFile(file)).build());
            }
            VersionInfo v = http.sendJson(http.request("/v1/registry/uploads/" + uploadId + "/commit")
                    .POST(HttpRequest.BodyPublishers.noBody()).build(), VersionInfo.class);
            committed = true;
            return new PushResult(model, v.version(), manifest.files().size(), manifest.totalSize(), v.manifestSha256());
        } finally {
            if (!committed) {
                abortQuietly(uploadId);
            }
        }
    }

    private void abortQuietly(String uploadId) {
        try {
            http.sendDiscarding(http.request("/v1/registry/uploads/" + uploadId).DELETE().build());
        } catch (IOException | RuntimeException e) {
            // The registry also expires abandoned uploads; the push's own error is the one worth reporting.
        }
    }
}
