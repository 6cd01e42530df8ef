package dev.llmplatform.registry.store;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** Models, their committed versions and files. Versions are inserted whole and never updated. */
@Repository
public class VersionStore {
    private static final String VERSION_COLUMNS = "model_name, version, artifact_id, manifest, manifest_sha256, backend, dtype, "
            + "quantization, target_hardware, file_count, total_size, created_at, created_by";

    private final JdbcClient jdbc;

    public VersionStore(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    public List<ModelRecord> models() {
        return jdbc.sql("SELECT name, latest_version, created_at FROM model ORDER BY name").query(VersionStore::model).list();
    }

    public Optional<ModelRecord> model(String name) {
        return jdbc.sql("SELECT name, latest_version, created_at FROM model WHERE name = ?").param(name)
                .query(VersionStore::model).optional();
    }

    /** A model's versions, newest first; {@code backend} / {@code quantization} null means any. */
    public List<VersionRecord> versions(String model, String backend, String quantization) {
        return jdbc.sql("SELECT " + VERSION_COLUMNS + " FROM model_version WHERE model_name = :model"
                        + " AND (CAST(:backend AS VARCHAR(16)) IS NULL OR backend = :backend)"
                        + " AND (CAST(:quantization AS VARCHAR(64)) IS NULL OR quantization = :quantization)"
                        + " ORDER BY version DESC")
                .param("model", model).param("backend", backend).param("quantization", quantization)
                .query(VersionStore::version).list();
    }

    public Optional<VersionRecord> version(String model, int version) {
        return jdbc.sql("SELECT " + VERSION_COLUMNS + " FROM model_version WHERE model_name = ? AND version = ?")
                .param(model).param(version).query(VersionStore::version).optional();
    }

    public List<StoredFile> files(String model, int version) {
        return jdbc.sql("SELECT path, size, sha256, blob_key FROM version_file WHERE model_name = ? AND version = ? ORDER BY path")
                .param(model).param(version).query(VersionStore::file).list();
    }

    public Optional<StoredFile> file(String model, int version, String path) {
        return jdbc.sql("SELECT path, size, sha256, blob_key FROM version_file WHERE model_name = ? AND version = ? AND path = ?")
                .param(model).param(version).param(path).query(VersionStore::file).optional();
    }

    /**
     * Hands out the model's next version number, creating the model on its first version. Must run inside the
     * committing transaction: the UPDATE locks the model's row until it ends, so concurrent commits of one model
     * get consecutive numbers. Two first commits can both find no row; one INSERT then fails on the primary key and
     * its transaction is retried by the caller.
     */
    public int nextVersion(String model, OffsetDateTime now) {
        int updated = jdbc.sql("UPDATE model SET latest_version = latest_version + 1 WHERE name = ?").param(model).update();
        if (updated == 0) {
            jdbc.sql("INSERT INTO model (name, latest_version, created_at) VALUES (?, 1, ?)").param(model).param(now).update();
            return 1;
        }
        return jdbc.sql("SELECT latest_version FROM model WHERE name = ?").param(model).query(Integer.class).single();
    }

    public void insert(VersionRecord v, List<StoredFile> files) {
        jdbc.sql("INSERT INTO model_version (" + VERSION_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                .params(v.model(), v.version(), v.artifactId(), v.manifest(), v.manifestSha256(), v.backend(), v.dtype(),
                        v.quantization(), v.targetHardware(), v.fileCount(), v.totalSize(), v.createdAt(), v.createdBy())
                .update();
        for (StoredFile f : files) {
            jdbc.sql("INSERT INTO version_file (model_name, version, path, size, sha256, blob_key) VALUES (?, ?, ?, ?, ?, ?)")
                    .params(v.model(), v.version(), f.path(), f.size(), f.sha256(), f.blobKey()).update();
        }
    }

    private static ModelRecord model(ResultSet rs, int row) throws SQLException {
        return new ModelRecord(rs.getString("name"), rs.getInt("latest_version"), rs.getObject("created_at", OffsetDateTime.class));
    }

    private static VersionRecord version(ResultSet rs, int row) throws SQLException {
        return new VersionRecord(rs.getString("model_name"), rs.getInt("version"), rs.getString("artifact_id"),
                rs.getString("manifest"), rs.getString("manifest_sha256"), rs.getString("backend"), rs.getString("dtype"),
                rs.getString("quantization"), rs.getString("target_hardware"), rs.getInt("file_count"),
                rs.getLong("total_size"), rs.getObject("created_at", OffsetDateTime.class), rs.getString("created_by"));
    }

    private static StoredFile file(ResultSet rs, int row) throws SQLException {
        return new StoredFile(rs.getString("path"), rs.getLong("size"), rs.getString("sha256"), rs.getString("blob_key"));
    }
}
