package dev.llmplatform.registry.api;

import dev.llmplatform.registry.rollout.Rollout;
import dev.llmplatform.registry.rollout.RolloutChange;
import dev.llmplatform.registry.store.ModelRecord;
import dev.llmplatform.registry.store.UploadFileRecord;
import dev.llmplatform.registry.store.UploadRecord;
import dev.llmplatform.registry.store.VersionRecord;
import java.time.OffsetDateTime;
import java.util.List;

/** The JSON shapes of the API (snake_case on the wire). Kept apart from the store's records so either can change. */
final class ApiViews {
    private ApiViews() {
    }

    record ModelView(String name, int latestVersion, OffsetDateTime createdAt) {
        static ModelView of(ModelRecord m) {
            return new ModelView(m.name(), m.latestVersion(), m.createdAt());
        }
    }

    record ModelList(List<ModelView> models) {
    }

    record ModelDetail(String name, int latestVersion, OffsetDateTime createdAt, Rollout rollout) {
    }

    record VersionView(String model, int version, String backend, String dtype, String quantization, String targetHardware,
                       int fileCount, long totalSize, String manifestSha256, OffsetDateTime createdAt, String createdBy) {
        static VersionView of(VersionRecord v) {
            return new VersionView(v.model(), v.version(), v.backend(), v.dtype(), v.quantization(), v.targetHardware(),
                    v.fileCount(), v.totalSize(), v.manifestSha256(), v.createdAt(), v.createdBy());
        }
    }

    record VersionList(String model, List<VersionView> versions) {
    }

    record FileView(String path, long size, String sha256, String url) {
    }

    /** A version with its files and where to fetch them (the verbatim manifest is at {@code manifest_url}). */
    record VersionDetail(String model, int version, String backend, String dtype, String quantization, String targetHardware,
                         int fileCount, long totalSize, String manifestSha256, OffsetDateTime createdAt, String createdBy,
                         String manifestUrl, List<FileView> files) {
    }

    record UploadFileView(String path, long size, String sha256, boolean stored) {
        static UploadFileView of(UploadFileRecord f) {
            return new UploadFileView(f.path(), f.size(), f.sha256(), f.stored());
        }
    }

    /** An upload: PUT each file's bytes to {@code files_url + path}, then POST {@code commit_url}. */
    record UploadView(String uploadId, String model, String state, OffsetDateTime createdAt, OffsetDateTime expiresAt,
                      String filesUrl, String commitUrl, List<UploadFileView> files) {
        static UploadView of(UploadRecord u, List<UploadFileRecord> files) {
            String base = "/v1/registry/uploads/" + u.id();
            return new UploadView(u.id(), u.model(), u.state().toLowerCase(java.util.Locale.ROOT), u.createdAt(), u.expiresAt(),
                    base + "/files/", base + "/commit", files.stream().map(UploadFileView::of).toList());
        }
    }

    /** Every model's rollout, and the id of the newest change: watch the event stream from there to miss nothing. */
    record RolloutList(List<Rollout> rollouts, long lastEventId) {
    }

    record RolloutHistory(String model, List<RolloutChange> changes) {
    }

    record VerifyReport(String model, int version, boolean ok, List<dev.llmplatform.registry.artifact.DownloadService.FileCheck> files) {
    }
}
