package dev.llmplatform.registry;

import dev.llmplatform.registry.support.PostgresDatabase;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The concurrency guarantees, and the Flyway migrations, on a real PostgreSQL (127.0.0.1:5432 here and in CI), in a
 * schema of this run's own.
 */
@ExtendWith(PostgresDatabase.class)
class PostgresConcurrencyTest extends ConcurrencyBehaviour {
    @DynamicPropertySource
    static void postgres(DynamicPropertyRegistry registry) {
        PostgresDatabase.springProperties().forEach((k, v) -> registry.add(k, () -> v));
    }
}
