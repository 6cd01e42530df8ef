package dev.llmplatform.registry.store;

import dev.llmplatform.registry.rollout.Rollout;
import dev.llmplatform.registry.rollout.RolloutAction;
import dev.llmplatform.registry.rollout.RolloutChange;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.jdbc.core.SqlParameterValue;
import org.springframework.jdbc.support.GeneratedKeyHolder;
import org.springframework.stereotype.Repository;

/**
 * Rollout rows and their audit log. {@link #compareAndSet} is the optimistic lock: it writes only if the row is
 * still at the revision the writer read, and reports whether it did.
 */
@Repository
public class RolloutStore {
    private static final String COLUMNS = "model_name, stable_version, canary_version, canary_percent, revision, updated_at, updated_by";
    private static final String EVENT_COLUMNS = "id, model_name, revision, action, actor, changed_at, from_stable, from_canary, "
            + "from_percent, to_stable, to_canary, to_percent";

    private final JdbcClient jdbc;

    public RolloutStore(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    public Optional<Rollout> find(String model) {
        return jdbc.sql("SELECT " + COLUMNS + " FROM rollout WHERE model_name = ?").param(model).query(RolloutStore::rollout).optional();
    }

    public List<Rollout> all() {
        return jdbc.sql("SELECT " + COLUMNS + " FROM rollout ORDER BY model_name").query(RolloutStore::rollout).list();
    }

    /**
     * Writes {@code next} if the stored rollout is still at {@code expectedRevision} (0: no row yet). False when another
     * writer got there first; nothing is written then.
     */
    public boolean compareAndSet(long expectedRevision, Rollout next) {
        if (expectedRevision == 0) {
            try {
                return jdbc.sql("INSERT INTO rollout (" + COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?)")
                        .params(next.model(), integer(next.stableVersion()), integer(next.canaryVersion()), next.canaryPercent(),
                                next.revision(), next.updatedAt(), next.updatedBy()).update() == 1;
            } catch (DuplicateKeyException raced) {
                return false;
            }
        }
        return jdbc.sql("UPDATE rollout SET stable_version = ?, canary_version = ?, canary_percent = ?, revision = ?, "
                        + "updated_at = ?, updated_by = ? WHERE model_name = ? AND revision = ?")
                .params(integer(next.stableVersion()), integer(next.canaryVersion()), next.canaryPercent(), next.revision(),
                        next.updatedAt(), next.updatedBy(), next.model(), expectedRevision).update() == 1;
    }

    /** Appends to the audit log; returns the change with its id. */
    public RolloutChange append(RolloutChange c) {
        GeneratedKeyHolder keys = new GeneratedKeyHolder();
        jdbc.sql("INSERT INTO rollout_event (model_name, revision, action, actor, changed_at, from_stable, from_canary, from_percent, "
                        + "to_stable, to_canary, to_percent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                .params(c.model(), c.revision(), c.action().name(), c.actor(), c.at(), integer(c.from().stableVersion()),
                        integer(c.from().canaryVersion()), c.from().canaryPercent(), integer(c.to().stableVersion()),
                        integer(c.to().canaryVersion()), c.to().canaryPercent())
                .update(keys, "id");
        long id = keys.getKeyAs(Number.class).longValue();
        return new RolloutChange(id, c.model(), c.revision(), c.action(), c.actor(), c.at(), c.from(), c.to());
    }

    /** Changes after {@code afterId}, oldest first, for one model or (model null) all; at most {@code limit}. */
    public List<RolloutChange> changesAfter(long afterId, String model, int limit) {
        return jdbc.sql("SELECT " + EVENT_COLUMNS + " FROM rollout_event WHERE id > :after"
                        + " AND (CAST(:model AS VARCHAR(128)) IS NULL OR model_name = :model) ORDER BY id FETCH FIRST " + limit + " ROWS ONLY")
                .param("after", afterId).param("model", model).query(RolloutStore::change).list();
    }

    public List<RolloutChange> history(String model) {
        return jdbc.sql("SELECT " + EVENT_COLUMNS + " FROM rollout_event WHERE model_name = ? ORDER BY id").param(model)
                .query(RolloutStore::change).list();
    }

    public long lastChangeId() {
        return jdbc.sql("SELECT COALESCE(MAX(id), 0) FROM rollout_event").query(Long.class).single();
    }

    // Typed nulls: PostgreSQL must be told the type of a null parameter.
    private static SqlParameterValue integer(Integer v) {
        return new SqlParameterValue(Types.INTEGER, v);
    }

    private static Integer nullableInt(ResultSet rs, String column) throws SQLException {
        int v = rs.getInt(column);
        return rs.wasNull() ? null : v;
    }

    private static Rollout rollout(ResultSet rs, int row) throws SQLException {
        return new Rollout(rs.getString("model_name"), nullableInt(rs, "stable_version"), nullableInt(rs, "canary_version"),
                rs.getInt("canary_percent"), rs.getLong("revision"), rs.getObject("updated_at", OffsetDateTime.class),
                rs.getString("updated_by"));
    }

    private static RolloutChange change(ResultSet rs, int row) throws SQLException {
        return new RolloutChange(rs.getLong("id"), rs.getString("model_name"), rs.getLong("revision"),
                RolloutAction.valueOf(rs.getString("action").toUpperCase(Locale.ROOT)), rs.getString("actor"),
                rs.getObject("changed_at", OffsetDateTime.class),
                new RolloutChange.State(nullableInt(rs, "from_stable"), nullableInt(rs, "from_canary"), rs.getInt("from_percent")),
                new RolloutChange.State(nullableInt(rs, "to_stable"), nullableInt(rs, "to_canary"), rs.getInt("to_percent")));
    }
}
