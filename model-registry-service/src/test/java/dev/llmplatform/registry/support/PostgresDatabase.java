package dev.llmplatform.registry.support;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The real PostgreSQL the tests run against: 127.0.0.1:5432, database {@code test}, user {@code postgres} (trust
 * auth) unless {@code REGISTRY_TEST_POSTGRES_URL} / {@code _USER} / {@code _PASSWORD} say otherwise. Each test
 * JVM works in a schema of its own, dropped at exit, so runs never see each other's rows.
 *
 * <p>As a JUnit condition: when PostgreSQL cannot be reached the tests are skipped with a message saying so,
 * except in CI (the {@code CI} environment variable) or with {@code -Dregistry.postgres.required=true}, where they
 * run and fail, because there a missing database is a broken machine, not a laptop.
 */
public final class PostgresDatabase implements ExecutionCondition {
    private static final String URL = env("REGISTRY_TEST_POSTGRES_URL", "jdbc:postgresql://127.0.0.1:5432/test");
    private static final String USER = env("REGISTRY_TEST_POSTGRES_USER", "postgres");
    private static final String PASSWORD = env("REGISTRY_TEST_POSTGRES_PASSWORD", "");
    private static String schema;

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        String problem = reachable();
        if (problem == null) {
            return ConditionEvaluationResult.enabled("PostgreSQL reachable at " + URL);
        }
        if (System.getenv("CI") != null || Boolean.getBoolean("registry.postgres.required")) {
            return ConditionEvaluationResult.enabled("PostgreSQL is required here (CI) although " + problem);
        }
        return ConditionEvaluationResult.disabled("SKIPPED: PostgreSQL not reachable at " + URL + " (" + problem
                + "); start it or set REGISTRY_TEST_POSTGRES_URL. These tests always run in CI.");
    }

    /** Connection settings for a Spring context, in a fresh schema (created on first use). */
    public static synchronized Map<String, String> springProperties() {
        if (schema == null) {
            schema = "registry_test_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
            execute("CREATE SCHEMA " + schema);
            String s = schema;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> execute("DROP SCHEMA IF EXISTS " + s + " CASCADE")));
        }
        return Map.of("spring.datasource.url", URL + (URL.contains("?") ? "&" : "?") + "currentSchema=" + schema,
                "spring.datasource.username", USER,
                "spring.datasource.password", PASSWORD,
                "spring.flyway.schemas", schema,
                "spring.flyway.default-schema", schema);
    }

    private static String reachable() {
        DriverManager.setLoginTimeout(3);
        try (Connection c = DriverManager.getConnection(URL, USER, PASSWORD)) {
            return c.isValid(3) ? null : "connection not valid";
        } catch (SQLException e) {
            return e.getMessage();
        }
    }

    private static void execute(String sql) {
        try (Connection c = DriverManager.getConnection(URL, USER, PASSWORD); Statement s = c.createStatement()) {
            s.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v;
    }
}
