package dev.llmplatform.registry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llmplatform.registry.support.Http;
import dev.llmplatform.registry.support.TestArtifacts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * What must hold when many clients write at once, run against each database the registry supports (H2 by default,
 * PostgreSQL in production): one winner per revision, nothing lost, consecutive version numbers, no leftovers.
 */
abstract class ConcurrencyBehaviour extends RegistryTestBase {
    private static final int WRITERS = 16;

    @TempDir
    Path tmp;

    private String modelWithVersions(int n) throws Exception {
        String model = TestArtifacts.uniqueModel("race");
        for (int i = 0; i < n; i++) {
            Path dir = TestArtifacts.directory(tmp.resolve(model + i), i, Map.of("w.bin", 64 + i));
            client().push(dir, model, TestArtifacts.manifest(dir));
        }
        return model;
    }

    /** Runs {@code task} on {@code WRITERS} threads released at the same instant. */
    private static <T> List<T> race(Callable<T> task) throws Exception {
        CountDownLatch start = new CountDownLatch(1);
        try (ExecutorService pool = Executors.newFixedThreadPool(WRITERS)) {
            List<Future<T>> futures = new ArrayList<>();
            for (int i = 0; i < WRITERS; i++) {
                futures.add(pool.submit(() -> {
                    start.await();
                    return task.call();
                }));
            }
            start.countDown();
            List<T> results = new ArrayList<>();
            for (Future<T> f : futures) {
                results.add(f.get());
            }
            return results;
        }
    }

    @Test
    void shouldLetExactlyOneOfManyWritersWithTheSameRevisionWin() throws Exception {
        String model = modelWithVersions(2);
        admin().post("/v1/registry/models/" + model + "/rollout/canary", "{\"version\": 1}");
        admin().post("/v1/registry/models/" + model + "/rollout/promote", null);
        admin().post("/v1/registry/models/" + model + "/rollout/canary", "{\"version\": 2, \"percent\": 1}");

        List<Http.Response> results = race(() -> {
            int percent = 10 + (int) (Thread.currentThread().threadId() % 80);
            return admin().post("/v1/registry/models/" + model + "/rollout/percent", "{\"percent\": " + percent + "}", "If-Match", "\"3\"");
        });

        List<Http.Response> won = results.stream().filter(r -> r.status() == 200).toList();
        assertThat(won).hasSize(1);
        assertThat(results).filteredOn(r -> r.status() == 409).hasSize(WRITERS - 1)
                .allSatisfy(r -> assertThat(r.json().get("type").asString()).isEqualTo("urn:llm-registry:revision-conflict"));
        JsonNode now = reader().get("/v1/registry/models/" + model + "/rollout").json();
        assertThat(now.get("revision").asLong()).isEqualTo(4);
        assertThat(now.get("canary_percent").asInt()).isEqualTo(won.getFirst().json().get("canary_percent").asInt());
        assertThat(reader().get("/v1/registry/models/" + model + "/rollout/history").json().get("changes")).hasSize(4);
    }

    @Test
    void shouldLoseNoChangeWhenWritersRetryAfterConflicts() throws Exception {
        String model = modelWithVersions(2);
        admin().post("/v1/registry/models/" + model + "/rollout/canary", "{\"version\": 1}");
        admin().post("/v1/registry/models/" + model + "/rollout/promote", null);
        admin().post("/v1/registry/models/" + model + "/rollout/canary", "{\"version\": 2, \"percent\": 0}");

        // Each writer reads the state and sets a percent, retrying on 409 until its own change is applied.
        List<Integer> attempts = race(() -> {
            for (int attempt = 1; ; attempt++) {
                JsonNode state = reader().get("/v1/registry/models/" + model + "/rollout").json();
                int percent = (int) (Thread.currentThread().threadId() % 101);
                Http.Response r = admin().post("/v1/registry/models/" + model + "/rollout/percent", "{\"percent\": " + percent + "}",
                        "If-Match", "\"" + state.get("revision").asLong() + "\"");
                if (r.status() == 200) {
                    return attempt;
                }
                assertThat(r.status()).as(r.toString()).isEqualTo(409);
            }
        });

        assertThat(attempts).hasSize(WRITERS);
        JsonNode history = reader().get("/v1/registry/models/" + model + "/rollout/history").json().get("changes");
        assertThat(history).hasSize(3 + WRITERS);
        assertThat(reader().get("/v1/registry/models/" + model + "/rollout").json().get("revision").asLong()).isEqualTo(3 + WRITERS);
        // The audit log is one unbroken chain: every change starts from the state the previous one left.
        for (int i = 1; i < history.size(); i++) {
            assertThat(history.get(i).get("from")).isEqualTo(history.get(i - 1).get("to"));
            assertThat(history.get(i).get("revision").asLong()).isEqualTo(history.get(i - 1).get("revision").asLong() + 1);
        }
    }

    @Test
    void shouldNumberConcurrentCommitsOfANewModelConsecutively() throws Exception {
        String model = TestArtifacts.uniqueModel("commits");
        List<String> uploads = new ArrayList<>();
        for (int i = 0; i < WRITERS; i++) {
            Path dir = TestArtifacts.directory(tmp.resolve("c" + i), 100 + i, Map.of("w.bin", 32));
            String id = admin().post("/v1/registry/models/" + model + "/uploads", TestArtifacts.manifestJson(dir)).json()
                    .get("upload_id").asString();
            for (String f : List.of("config.json", "w.bin")) {
                assertThat(admin().put("/v1/registry/uploads/" + id + "/files/" + f, Files.readAllBytes(dir.resolve(f))).status())
                        .isEqualTo(200);
            }
            uploads.add(id);
        }
        java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        List<Http.Response> commits = race(() -> admin().post("/v1/registry/uploads/" + uploads.get(next.getAndIncrement()) + "/commit", null));
        assertThat(commits).allSatisfy(r -> assertThat(r.status()).as(r.toString()).isEqualTo(201));
        assertThat(commits.stream().map(r -> r.json().get("version").asInt()).sorted().toList())
                .isEqualTo(java.util.stream.IntStream.rangeClosed(1, WRITERS).boxed().toList());
        assertThat(jdbc.sql("SELECT latest_version FROM model WHERE name = ?").param(model).query(Integer.class).single()).isEqualTo(WRITERS);
        assertThat(jdbc.sql("SELECT COUNT(*) FROM upload WHERE model_name = ?").param(model).query(Long.class).single()).isZero();
    }

    @Test
    void shouldLeaveNoMetadataOrBytesOfAnUploadThatWasNeverFinished() throws Exception {
        String model = TestArtifacts.uniqueModel("unfinished");
        Path dir = TestArtifacts.smallDirectory(tmp.resolve("u"), 9);
        String id = admin().post("/v1/registry/models/" + model + "/uploads", TestArtifacts.manifestJson(dir)).json()
                .get("upload_id").asString();
        admin().put("/v1/registry/uploads/" + id + "/files/model.safetensors", Files.readAllBytes(dir.resolve("model.safetensors")));
        assertThat(reader().get("/v1/registry/models/" + model).status()).isEqualTo(404);

        janitor.sweep(OffsetDateTime.now().plus(Duration.ofDays(2)));
        assertThat(jdbc.sql("SELECT COUNT(*) FROM upload WHERE id = ?").param(id).query(Long.class).single()).isZero();
        assertThat(jdbc.sql("SELECT COUNT(*) FROM upload_file WHERE upload_id = ?").param(id).query(Long.class).single()).isZero();
        assertThat(jdbc.sql("SELECT COUNT(*) FROM model WHERE name = ?").param(model).query(Long.class).single()).isZero();
        assertThat(blobs.list("models/" + model + "/")).isEmpty();
        assertThat(admin().post("/v1/registry/uploads/" + id + "/commit", null).status()).isEqualTo(404);
    }
}
