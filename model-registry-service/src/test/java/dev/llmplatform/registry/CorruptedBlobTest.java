package dev.llmplatform.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.llmplatform.engine.registry.ModelReference;
import dev.llmplatform.engine.registry.RegistryException;
import dev.llmplatform.registry.blob.FilesystemBlobStore;
import dev.llmplatform.registry.support.TestArtifacts;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/** A blob that rots in storage after it was verified must be caught on the way out, never served as good. */
class CorruptedBlobTest extends RegistryTestBase {
    @TempDir
    Path tmp;

    @Test
    void shouldCutTheDownloadShortAndFailThePullWhenAStoredBlobIsCorrupted() throws Exception {
        String model = TestArtifacts.uniqueModel("corrupt");
        Path dir = TestArtifacts.smallDirectory(tmp.resolve("src"), 7);
        client().push(dir, model, TestArtifacts.manifest(dir));
        String key = jdbc.sql("SELECT blob_key FROM version_file WHERE model_name = ? AND path = 'model.safetensors'")
                .param(model).query(String.class).single();
        Path blob = ((FilesystemBlobStore) blobs).path(key);
        try (RandomAccessFile f = new RandomAccessFile(blob.toFile(), "rw")) {
            f.seek(150_000);
            int b = f.read();
            f.seek(150_000);
            f.write(b ^ 0x40); // same size, one bit flipped
        }

        // Over plain HTTP: the response stops short of its Content-Length, so no client mistakes it for the file.
        HttpResponse<InputStream> r = HttpClient.newHttpClient().send(
                reader().request("/v1/registry/models/" + model + "/versions/1/files/model.safetensors").GET().build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThatThrownBy(() -> {
            try (InputStream in = r.body()) {
                in.readAllBytes();
            }
        }).isInstanceOf(java.io.IOException.class);

        // Through the client: the pull fails naming the file, and leaves no file in place.
        Path out = tmp.resolve("pulled");
        assertThatThrownBy(() -> client().pull(ModelReference.parse(model + "@1"), out))
                .isInstanceOf(RegistryException.class).hasMessageContaining("model.safetensors");
        assertThat(out.resolve("model.safetensors")).doesNotExist();
        assertThat(out.resolve("engine-manifest.json")).as("an incomplete pull is not marked complete").doesNotExist();

        // The verify endpoint finds it too, and only it.
        JsonNode report = admin().post("/v1/registry/models/" + model + "/versions/1/verify", null).json();
        assertThat(report.get("ok").asBoolean()).isFalse();
        for (JsonNode f : report.get("files")) {
            assertThat(f.get("ok").asBoolean()).as(f.toString()).isEqualTo(!f.get("path").asString().equals("model.safetensors"));
        }

        // Ranges are served as stored; the client's whole-file check is what catches them.
        assertThat(reader().get("/v1/registry/models/" + model + "/versions/1/files/model.safetensors", "Range", "bytes=0-99")
                .body()).isEqualTo(java.util.Arrays.copyOf(Files.readAllBytes(dir.resolve("model.safetensors")), 100));
    }
}
