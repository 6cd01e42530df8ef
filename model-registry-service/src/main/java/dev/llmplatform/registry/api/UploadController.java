package dev.llmplatform.registry.api;

import dev.llmplatform.registry.api.ApiViews.UploadFileView;
import dev.llmplatform.registry.api.ApiViews.UploadView;
import dev.llmplatform.registry.api.ApiViews.VersionView;
import dev.llmplatform.registry.artifact.UploadService;
import dev.llmplatform.registry.config.RegistryProperties;
import dev.llmplatform.registry.problem.LimitExceeded;
import dev.llmplatform.registry.security.Caller;
import dev.llmplatform.registry.store.UploadRecord;
import dev.llmplatform.registry.store.VersionRecord;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.parameters.RequestBody;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * Pushing a version: open an upload with the engine manifest, PUT each file's bytes (streamed to storage, checked
 * against the manifest on the way), then commit. Until the commit, nothing of it is visible to readers.
 */
@RestController
@Tag(name = "uploads", description = "Push a new version: open, put files, commit (admin)")
class UploadController {
    private final UploadService uploads;
    private final long maxManifestBytes;

    UploadController(UploadService uploads, RegistryProperties properties) {
        this.uploads = uploads;
        this.maxManifestBytes = properties.limits().maxManifestSize().toBytes();
    }

    @PostMapping(value = "/v1/registry/models/{name}/uploads", consumes = MediaType.APPLICATION_JSON_VALUE)
    @Operation(summary = "Open an upload of the model's next version",
            requestBody = @RequestBody(description = "The engine manifest (engine-manifest.json): every file with its size and sha256.",
                    required = true))
    ResponseEntity<UploadView> open(@PathVariable String name, HttpServletRequest request) throws IOException {
        // Read by hand, with a limit: a manifest is small, and the body of an unauthenticated-size request must not be.
        byte[] body;
        try (InputStream in = request.getInputStream()) {
            body = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxManifestBytes + 1));
        }
        if (body.length > maxManifestBytes) {
            throw new LimitExceeded("the manifest is larger than " + maxManifestBytes + " bytes (llm.registry.limits.max-manifest-size)");
        }
        UploadRecord u = uploads.open(name, new String(body, StandardCharsets.UTF_8), Caller.of(request).name());
        return ResponseEntity.created(URI.create("/v1/registry/uploads/" + u.id())).body(UploadView.of(u, uploads.files(u.id())));
    }

    @GetMapping("/v1/registry/uploads/{id}")
    @Operation(summary = "An upload's state: which files have arrived")
    UploadView upload(@PathVariable String id) {
        return UploadView.of(uploads.find(id), uploads.files(id));
    }

    @PutMapping(value = "/v1/registry/uploads/{id}/files/{*path}", consumes = MediaType.ALL_VALUE)
    @Operation(summary = "Upload one file's bytes (the raw body; streamed, never buffered)",
            description = "Refused with 422 when the bytes' size or sha256 differ from the manifest; nothing is kept then.")
    UploadFileView putFile(@PathVariable String id, @PathVariable String path, HttpServletRequest request) throws IOException {
        String p = path.startsWith("/") ? path.substring(1) : path;
        try (InputStream body = request.getInputStream()) {
            return UploadFileView.of(uploads.receive(id, p, body, request.getContentLengthLong()));
        }
    }

    @PostMapping("/v1/registry/uploads/{id}/commit")
    @Operation(summary = "Commit: the upload becomes the model's next version (409 unless every file arrived verified)")
    ResponseEntity<VersionView> commit(@PathVariable String id, HttpServletRequest request) {
        VersionRecord v = uploads.commit(id, Caller.of(request).name());
        return ResponseEntity.created(URI.create("/v1/registry/models/" + v.model() + "/versions/" + v.version()))
                .body(VersionView.of(v));
    }

    @DeleteMapping("/v1/registry/uploads/{id}")
    @Operation(summary = "Abort an upload and delete what it stored")
    ResponseEntity<Void> abort(@PathVariable String id) {
        uploads.abort(id);
        return ResponseEntity.noContent().build();
    }
}
