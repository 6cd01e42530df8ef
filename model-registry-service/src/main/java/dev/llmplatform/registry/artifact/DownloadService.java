package dev.llmplatform.registry.artifact;

import dev.llmplatform.engine.manifest.ArtifactPaths;
import dev.llmplatform.registry.blob.BlobStore;
import dev.llmplatform.registry.model.ModelNames;
import dev.llmplatform.registry.model.VersionRef;
import dev.llmplatform.registry.problem.InvalidRequest;
import dev.llmplatform.registry.problem.NotFound;
import dev.llmplatform.registry.rollout.Rollout;
import dev.llmplatform.registry.rollout.RolloutService;
import dev.llmplatform.registry.store.ModelRecord;
import dev.llmplatform.registry.store.StoredFile;
import dev.llmplatform.registry.store.VersionRecord;
import dev.llmplatform.registry.store.VersionStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Service;

/**
 * Reading versions back: resolving {@code stable} / {@code canary} / {@code latest} to a number, finding a file,
 * streaming it whole (verified on the way out) or a byte range of it, and re-checking every blob of a version.
 */
@Service
public class DownloadService {
    private static final Logger log = LoggerFactory.getLogger(DownloadService.class);

    private final VersionStore versions;
    private final RolloutService rollouts;
    private final BlobStore blobs;
    private final ModelNames names;

    public DownloadService(VersionStore versions, RolloutService rollouts, BlobStore blobs, ModelNames names) {
        this.versions = versions;
        this.rollouts = rollouts;
        this.blobs = blobs;
        this.names = names;
    }

    public ModelRecord model(String model) {
        return versions.model(names.check(model)).orElseThrow(() -> new NotFound("no model named '" + model + "'"));
    }

    public VersionRecord resolve(String model, String ref) {
        ModelRecord m = model(model);
        int number = switch (VersionRef.parse(ref)) {
            case VersionRef.Number n -> n.version();
            case VersionRef.Alias a when a == VersionRef.Alias.LATEST -> m.latestVersion();
            case VersionRef.Alias a -> {
                Rollout r = rollouts.current(model);
                Integer v = a == VersionRef.Alias.STABLE ? r.stableVersion() : r.canaryVersion();
                if (v == null) {
                    throw new NotFound(model + " has no " + a.name().toLowerCase() + " version"
                            + (a == VersionRef.Alias.STABLE ? " (no canary has been promoted yet)" : " (no canary is running)"));
                }
                yield v;
            }
        };
        return versions.version(model, number).orElseThrow(() -> new NotFound(model + " has no version " + number));
    }

    public List<StoredFile> files(VersionRecord v) {
        return versions.files(v.model(), v.version());
    }

    public StoredFile file(VersionRecord v, String path) {
        String problem = ArtifactPaths.problem(path);
        if (problem != null) {
            throw new InvalidRequest("invalid-path", "file path '" + path + "' " + problem);
        }
        return versions.file(v.model(), v.version(), path)
                .orElseThrow(() -> new NotFound(v.model() + "@" + v.version() + " has no file '" + path + "'"));
    }

    /** Streams the whole file, verifying it; a corrupt blob is logged and the transfer cut short. */
    public void copyWhole(VersionRecord v, StoredFile f, OutputStream out) throws IOException {
        try (InputStream in = blobs.open(f.blobKey(), 0, f.size())) {
            VerifiedCopy.copy(in, out, f.size(), f.sha256(), v.model() + "@" + v.version() + " " + f.path());
        } catch (CorruptBlobException e) {
            log.error("CORRUPT BLOB {}: {}", f.blobKey(), e.getMessage());
            throw e;
        }
    }

    /** Streams bytes [offset, offset + length). Ranges are not verified here: the client verifies the assembled file. */
    public void copyRange(StoredFile f, long offset, long length, OutputStream out) throws IOException {
        try (InputStream in = blobs.open(f.blobKey(), offset, length)) {
            in.transferTo(out);
        }
    }

    /** Re-reads every blob of a version and compares it with what was committed. */
    public List<FileCheck> verify(VersionRecord v) {
        List<FileCheck> checks = new ArrayList<>();
        for (StoredFile f : files(v)) {
            try (InputStream in = blobs.open(f.blobKey(), 0, f.size())) {
                VerifiedCopy.copy(in, OutputStream.nullOutputStream(), f.size(), f.sha256(), f.path());
                checks.add(new FileCheck(f.path(), true, "size and sha256 match"));
            } catch (IOException e) {
                log.error("verification of {}@{} {} failed: {}", v.model(), v.version(), f.path(), e.getMessage());
                checks.add(new FileCheck(f.path(), false, e.getMessage()));
            }
        }
        return checks;
    }

    /** The outcome of re-checking one file. */
    public record FileCheck(String path, boolean ok, String detail) {
    }
}
