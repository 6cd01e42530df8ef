package dev.llmplatform.registry.store;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/**
 * Uploads in progress. State changes are compare-and-set UPDATEs ("... WHERE state = 'OPEN'") so that a commit, an
 * abort and the janitor racing for the same upload cannot both win.
 */
@Repository
public class UploadStore {
    private static final String COLUMNS = "id, model_name, manifest, state, created_at, expires_at, created_by";

    private final JdbcClient jdbc;

    public UploadStore(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    public void insert(UploadRecord u, List<UploadFileRecord> files) {
        jdbc.sql("INSERT INTO upload (" + COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?)")
                .params(u.id(), u.model(), u.manifest(), u.state(), u.createdAt(), u.expiresAt(), u.createdBy()).update();
        for (UploadFileRecord f : files) {
            jdbc.sql("INSERT INTO upload_file (upload_id, path, size, sha256, stored) VALUES (?, ?, ?, ?, ?)")
                    .params(u.id(), f.path(), f.size(), f.sha256(), f.stored()).update();
        }
    }

    public Optional<UploadRecord> find(String id) {
        return jdbc.sql("SELECT " + COLUMNS + " FROM upload WHERE id = ?").param(id).query(UploadStore::upload).optional();
    }

    public List<UploadFileRecord> files(String id) {
        return jdbc.sql("SELECT path, size, sha256, stored FROM upload_file WHERE upload_id = ? ORDER BY path").param(id)
                .query(UploadStore::file).list();
    }

    public Optional<UploadFileRecord> file(String id, String path) {
        return jdbc.sql("SELECT path, size, sha256, stored FROM upload_file WHERE upload_id = ? AND path = ?")
                .param(id).param(path).query(UploadStore::file).optional();
    }

    /**
     * Records a verified file; false when the upload is no longer open. The upload row is only read, not written, so
     * files of one upload arriving in parallel do not contend for its lock.
     */
    public boolean markStored(String id, String path) {
        return jdbc.sql("UPDATE upload_file SET stored = TRUE WHERE upload_id = ? AND path = ?"
                        + " AND EXISTS (SELECT 1 FROM upload WHERE id = ? AND state = 'OPEN')")
                .param(id).param(path).param(id).update() == 1;
    }

    /** Moves an upload from {@code from} to {@code to}; false when it was not in {@code from} (someone else won). */
    public boolean transition(String id, String from, String to) {
        return jdbc.sql("UPDATE upload SET state = ? WHERE id = ? AND state = ?").param(to).param(id).param(from).update() == 1;
    }

    /** Claims every open upload that expired before {@code now} for deletion; returns their ids. */
    public List<String> expireOpen(OffsetDateTime now) {
        List<String> ids = jdbc.sql("SELECT id FROM upload WHERE state = 'OPEN' AND expires_at < ?").param(now)
                .query(String.class).list();
        return ids.stream().filter(id -> transition(id, UploadRecord.OPEN, UploadRecord.ABORTED)).toList();
    }

    public List<UploadRecord> aborted() {
        return jdbc.sql("SELECT " + COLUMNS + " FROM upload WHERE state = 'ABORTED'").query(UploadStore::upload).list();
    }

    /** Deletes the upload and its file rows (ON DELETE CASCADE). */
    public void delete(String id) {
        jdbc.sql("DELETE FROM upload_file WHERE upload_id = ?").param(id).update();
        jdbc.sql("DELETE FROM upload WHERE id = ?").param(id).update();
    }

    private static UploadRecord upload(ResultSet rs, int row) throws SQLException {
        return new UploadRecord(rs.getString("id"), rs.getString("model_name"), rs.getString("manifest"), rs.getString("state"),
                rs.getObject("created_at", OffsetDateTime.class), rs.getObject("expires_at", OffsetDateTime.class),
                rs.getString("created_by"));
    }

    private static UploadFileRecord file(ResultSet rs, int row) throws SQLException {
        return new UploadFileRecord(rs.getString("path"), rs.getLong("size"), rs.getString("sha256"), rs.getBoolean("stored"));
    }
}
