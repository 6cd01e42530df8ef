package dev.llmplatform.registry.artifact;

import dev.llmplatform.engine.manifest.EngineManifest;
import dev.llmplatform.engine.manifest.FileDigests;
import dev.llmplatform.engine.manifest.ManifestException;
import dev.llmplatform.engine.manifest.ManifestJson;
import dev.llmplatform.registry.blob.BlobKeys;
import dev.llmplatform.registry.blob.BlobStore;
import dev.llmplatform.registry.config.RegistryProperties;
import dev.llmplatform.registry.model.ModelNames;
import dev.llmplatform.registry.problem.Conflict;
import dev.llmplatform.registry.problem.ContentMismatch;
import dev.llmplatform.registry.problem.InvalidRequest;
import dev.llmplatform.registry.problem.NotFound;
import dev.llmplatform.registry.store.StoredFile;
import dev.llmplatform.registry.store.Timestamps;
import dev.llmplatform.registry.store.UploadFileRecord;
import dev.llmplatform.registry.store.UploadRecord;
import dev.llmplatform.registry.store.UploadStore;
import dev.llmplatform.registry.store.VersionRecord;
import dev.llmplatform.registry.store.VersionStore;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.dao.TransientDataAccessException;
import org.springframework.stereotype.Service;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * How a version comes to exist: an upload opens with the manifest, each file streams into the blob store while its
 * size and sha256 are checked against the manifest, and the commit turns the upload into the next numbered version
 * in one transaction, only if every file arrived verified. Bytes that fail a check, or stop arriving, are deleted at
 * once; an upload that is aborted or never committed is deleted with its bytes (here, or by the janitor).
 */
@Service
public class UploadService {
    private static final Logger log = LoggerFactory.getLogger(UploadService.class);

    private final UploadStore uploads;
    private final VersionStore versions;
    private final BlobStore blobs;
    private final TransactionTemplate tx;
    private final Clock clock;
    private final ManifestPolicy policy;
    private final ModelNames names;
    private final RegistryProperties.Uploads settings;

    public UploadService(UploadStore uploads, VersionStore versions, BlobStore blobs, TransactionTemplate tx, Clock clock,
                         ManifestPolicy policy, ModelNames names, RegistryProperties properties) {
        this.uploads = uploads;
        this.versions = versions;
        this.blobs = blobs;
        this.tx = tx;
        this.clock = clock;
        this.policy = policy;
        this.names = names;
        this.settings = properties.uploads();
    }

    /** Opens an upload of the next version of {@code model}, described by {@code manifestJson} (kept verbatim). */
    public UploadRecord open(String model, String manifestJson, String actor) {
        names.check(model);
        EngineManifest manifest;
        try {
            manifest = ManifestJson.parse(manifestJson);
        } catch (ManifestException e) {
            throw new InvalidRequest("invalid-manifest", e.getMessage());
        }
        policy.check(manifest);
        OffsetDateTime now = Timestamps.now(clock);
        UploadRecord upload = new UploadRecord(UUID.randomUUID().toString(), model, manifestJson, UploadRecord.OPEN, now,
                now.plus(settings.ttl()), actor);
        List<UploadFileRecord> files = manifest.files().stream()
                .map(f -> new UploadFileRecord(f.path(), f.size(), f.sha256(), false)).toList();
        tx.executeWithoutResult(s -> uploads.insert(upload, files));
        log.info("upload {} of {} opened by {}: {} files, {} bytes", upload.id(), model, actor, files.size(), manifest.totalSize());
        return upload;
    }

    public UploadRecord find(String uploadId) {
        return uploads.find(uploadId).orElseThrow(() -> new NotFound("no upload " + uploadId + " (committed, aborted or expired)"));
    }

    public List<UploadFileRecord> files(String uploadId) {
        return uploads.files(uploadId);
    }

    /**
     * Streams one file's bytes into the blob store, checking them against the manifest as they pass. {@code declaredLength}
     * is the request's Content-Length (-1 when chunked). On any failure, including the client going away midway,
     * whatever was written is deleted and the file stays "not stored".
     */
    public UploadFileRecord receive(String uploadId, String path, InputStream body, long declaredLength) throws IOException {
        UploadRecord upload = requireOpen(find(uploadId));
        UploadFileRecord expected = uploads.file(uploadId, path)
                .orElseThrow(() -> new NotFound("upload " + uploadId + " has no file '" + path + "' in its manifest"));
        if (declaredLength >= 0 && declaredLength != expected.size()) {
            throw new ContentMismatch("size-mismatch", path + ": the request body is " + declaredLength
                    + " bytes, the manifest says " + expected.size());
        }
        String key = BlobKeys.file(upload.model(), upload.id(), path);
        DigestingInputStream in = new DigestingInputStream(body);
        boolean kept = false;
        try {
            try {
                blobs.put(key, in, expected.size());
            } catch (EOFException e) {
                throw new ContentMismatch("size-mismatch", path + ": the request body ended after " + in.count()
                        + " bytes, the manifest says " + expected.size());
            }
            if (in.read() >= 0) {
                throw new ContentMismatch("size-mismatch", path + ": the request body is longer than the " + expected.size()
                        + " bytes the manifest says");
            }
            String actual = in.sha256Hex();
            if (!actual.equals(expected.sha256())) {
                throw new ContentMismatch("digest-mismatch", path + ": received bytes have sha256 " + actual
                        + ", the manifest says " + expected.sha256());
            }
            if (!Boolean.TRUE.equals(tx.execute(s -> uploads.markStored(uploadId, path)))) {
                throw new NotFound("upload " + uploadId + " was aborted or expired while '" + path + "' arrived");
            }
            kept = true;
            return new UploadFileRecord(path, expected.size(), actual, true);
        } catch (IOException e) {
            log.info("upload {}: receiving '{}' failed after {} bytes: {}", uploadId, path, in.count(), e.toString());
            throw e;
        } finally {
            if (!kept) {
                deleteQuietly(key);
            }
        }
    }

    /** Makes the upload the model's next version, if all its files arrived verified. Retries a lost first-version race. */
    public VersionRecord commit(String uploadId, String actor) {
        for (int attempt = 1; ; attempt++) {
            try {
                return tx.execute(s -> commitOnce(uploadId, actor));
            } catch (DuplicateKeyException | TransientDataAccessException e) {
                if (attempt == 5) {
                    throw new Conflict("concurrent-commit", "upload " + uploadId + " lost the race for a version number "
                            + attempt + " times; retry");
                }
            }
        }
    }

    private VersionRecord commitOnce(String uploadId, String actor) {
        UploadRecord upload = requireOpen(find(uploadId));
        // Claims the upload for this transaction: an abort or the janitor now finds it not OPEN and leaves it alone.
        if (!uploads.transition(uploadId, UploadRecord.OPEN, UploadRecord.COMMITTING)) {
            throw new Conflict("upload-not-open", "upload " + uploadId + " is being committed or aborted by another request");
        }
        List<UploadFileRecord> files = uploads.files(uploadId);
        List<String> missing = files.stream().filter(f -> !f.stored()).map(UploadFileRecord::path).toList();
        if (!missing.isEmpty()) {
            throw new Conflict("upload-incomplete", missing.size() + " of " + files.size() + " files have not arrived yet: "
                    + String.join(", ", missing.subList(0, Math.min(10, missing.size()))) + (missing.size() > 10 ? ", ..." : ""));
        }
        EngineManifest manifest = ManifestJson.parse(upload.manifest());
        OffsetDateTime now = Timestamps.now(clock);
        int number = versions.nextVersion(upload.model(), now);
        VersionRecord version = new VersionRecord(upload.model(), number, upload.id(), upload.manifest(),
                FileDigests.sha256(upload.manifest().getBytes(StandardCharsets.UTF_8)), manifest.backend().id(), manifest.dtype(),
                manifest.quantization().method(), manifest.targetHardware(), files.size(), manifest.totalSize(), now, actor);
        versions.insert(version, files.stream()
                .map(f -> new StoredFile(f.path(), f.size(), f.sha256(), BlobKeys.file(upload.model(), upload.id(), f.path())))
                .toList());
        uploads.delete(uploadId);
        log.info("{}@{} committed by {} from upload {}", upload.model(), number, actor, uploadId);
        return version;
    }

    /** Aborts an open upload and deletes its bytes and rows. */
    public void abort(String uploadId) {
        UploadRecord upload = find(uploadId);
        if (!Boolean.TRUE.equals(tx.execute(s -> uploads.transition(uploadId, UploadRecord.OPEN, UploadRecord.ABORTED)))
                && !UploadRecord.ABORTED.equals(upload.state())) {
            throw new Conflict("upload-not-open", "upload " + uploadId + " is being committed");
        }
        discard(upload);
    }

    /** Deletes an aborted upload's bytes, then its rows; if the bytes cannot be deleted the rows stay for the next sweep. */
    boolean discard(UploadRecord upload) {
        try {
            blobs.deletePrefix(BlobKeys.artifactPrefix(upload.model(), upload.id()));
        } catch (IOException | RuntimeException e) {
            log.warn("upload {}: could not delete its blobs yet ({}); the janitor will retry", upload.id(), e.toString());
            return false;
        }
        tx.executeWithoutResult(s -> uploads.delete(upload.id()));
        return true;
    }

    private static UploadRecord requireOpen(UploadRecord upload) {
        if (!UploadRecord.OPEN.equals(upload.state())) {
            throw new NotFound("upload " + upload.id() + " is " + upload.state().toLowerCase() + ", not open");
        }
        return upload;
    }

    private void deleteQuietly(String key) {
        try {
            blobs.delete(key);
        } catch (IOException | RuntimeException e) {
            log.warn("could not delete the rejected blob {} ({}); the upload's deletion will", key, e.toString());
        }
    }
}
