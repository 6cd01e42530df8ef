package dev.llmplatform.registry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llmplatform.registry.support.Http;
import dev.llmplatform.registry.support.TestArtifacts;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A push that stops midway (the client dies, the network drops) must leave no visible version, no bytes, and,
 * once the upload is aborted or expires, no metadata at all.
 */
class InterruptedUploadTest extends RegistryTestBase {
    @TempDir
    Path tmp;

    @Test
    void shouldKeepNoBytesAndNoVersionWhenTheConnectionDropsMidFile() throws Exception {
        String model = TestArtifacts.uniqueModel("interrupted");
        Path dir = TestArtifacts.directory(tmp.resolve("a"), 1, Map.of("model.safetensors", 4_000_000));
        String id = admin().post("/v1/registry/models/" + model + "/uploads", TestArtifacts.manifestJson(dir)).json()
                .get("upload_id").asString();
        assertThat(admin().put("/v1/registry/uploads/" + id + "/files/config.json", Files.readAllBytes(dir.resolve("config.json")))
                .status()).isEqualTo(200);

        byte[] weights = Files.readAllBytes(dir.resolve("model.safetensors"));
        try (Socket socket = new Socket("127.0.0.1", port)) {
            OutputStream out = socket.getOutputStream();
            out.write(("PUT /v1/registry/uploads/" + id + "/files/model.safetensors HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Authorization: Bearer " + ADMIN_TOKEN + "\r\nContent-Type: application/octet-stream\r\n"
                    + "Content-Length: " + weights.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(weights, 0, weights.length / 2);
            out.flush();
            Thread.sleep(300); // let the server write some of it to storage before the connection dies
        }

        String prefix = "models/" + model + "/" + id + "/";
        awaitTrue(() -> {
            try {
                return blobs.list(prefix).equals(java.util.List.of(prefix + "config.json"));
            } catch (Exception e) {
                return false;
            }
        });
        Http.Response upload = admin().get("/v1/registry/uploads/" + id);
        assertThat(upload.json().get("files").get(1).get("path").asString()).isEqualTo("model.safetensors");
        assertThat(upload.json().get("files").get(1).get("stored").asBoolean()).isFalse();
        assertThat(reader().get("/v1/registry/models/" + model).status()).as("no model, no version").isEqualTo(404);
        assertThat(admin().post("/v1/registry/uploads/" + id + "/commit", null).status()).isEqualTo(409);

        // The client never comes back: once the upload expires, the janitor removes its rows and its bytes.
        assertThat(janitor.sweep(OffsetDateTime.now().plus(Duration.ofDays(2)))).isGreaterThanOrEqualTo(1);
        assertThat(count("SELECT COUNT(*) FROM upload WHERE id = ?", id)).isZero();
        assertThat(count("SELECT COUNT(*) FROM upload_file WHERE upload_id = ?", id)).isZero();
        assertThat(count("SELECT COUNT(*) FROM model_version WHERE model_name = ?", model)).isZero();
        assertThat(blobs.list(prefix)).isEmpty();
    }

    @Test
    void shouldDeleteEverythingOfAnAbortedUpload() throws Exception {
        String model = TestArtifacts.uniqueModel("aborted");
        Path dir = TestArtifacts.smallDirectory(tmp.resolve("b"), 2);
        String id = admin().post("/v1/registry/models/" + model + "/uploads", TestArtifacts.manifestJson(dir)).json()
                .get("upload_id").asString();
        admin().put("/v1/registry/uploads/" + id + "/files/model.safetensors", Files.readAllBytes(dir.resolve("model.safetensors")));
        assertThat(blobs.list("models/" + model + "/" + id + "/")).hasSize(1);

        assertThat(admin().delete("/v1/registry/uploads/" + id).status()).isEqualTo(204);
        assertThat(blobs.list("models/" + model + "/" + id + "/")).isEmpty();
        assertThat(count("SELECT COUNT(*) FROM upload_file WHERE upload_id = ?", id)).isZero();
        assertThat(admin().get("/v1/registry/uploads/" + id).status()).isEqualTo(404);
        assertThat(admin().put("/v1/registry/uploads/" + id + "/files/config.json", new byte[]{1}).status()).isEqualTo(404);
    }

    @Test
    void shouldLeaveNothingWhenTheCommandLinePushFailsHalfway() throws Exception {
        String model = TestArtifacts.uniqueModel("half");
        Path dir = TestArtifacts.smallDirectory(tmp.resolve("c"), 3);
        var manifest = TestArtifacts.manifest(dir);
        Files.write(dir.resolve("tokenizer/tokenizer.json"), new byte[]{42}); // changed after the manifest was made
        try {
            client().push(dir, model, manifest);
            throw new AssertionError("the push should have failed");
        } catch (dev.llmplatform.engine.registry.RegistryException e) {
            assertThat(e.status()).isEqualTo(422);
            assertThat(e.getMessage()).contains("tokenizer/tokenizer.json");
        }
        assertThat(count("SELECT COUNT(*) FROM upload WHERE model_name = ?", model)).as("the client aborted its upload").isZero();
        assertThat(blobs.list("models/" + model + "/")).isEmpty();
        assertThat(reader().get("/v1/registry/models/" + model).status()).isEqualTo(404);
    }

    private long count(String sql, String param) {
        return jdbc.sql(sql).param(param).query(Long.class).single();
    }

    private static void awaitTrue(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not met within 10 s");
            }
            Thread.sleep(50);
        }
    }
}
