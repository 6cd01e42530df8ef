package dev.llmplatform.registry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llmplatform.engine.manifest.EngineManifest;
import dev.llmplatform.engine.manifest.ManifestFile;
import dev.llmplatform.engine.manifest.ManifestJson;
import dev.llmplatform.engine.registry.PushResult;
import dev.llmplatform.registry.support.Http;
import dev.llmplatform.registry.support.TestArtifacts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/** Pushing versions over the REST API and reading them back: visibility, ranges, digests, and what is refused. */
class UploadAndDownloadTest extends RegistryTestBase {
    @TempDir
    Path tmp;

    private JsonNode open(Http http, String model, String manifestJson) {
        Http.Response r = http.post("/v1/registry/models/" + model + "/uploads", manifestJson);
        assertThat(r.status()).as(r.toString()).isEqualTo(201);
        return r.json();
    }

    @Test
    void shouldMakeAVersionVisibleOnlyWhenAllFilesAreStoredAndCommitted() throws Exception {
        String model = TestArtifacts.uniqueModel("visible");
        Path dir = TestArtifacts.smallDirectory(tmp.resolve("a"), 1);
        EngineManifest manifest = TestArtifacts.manifest(dir);
        JsonNode upload = open(admin(), model, ManifestJson.toJson(manifest));
        String id = upload.get("upload_id").asString();
        assertThat(upload.get("files")).hasSize(3);

        ManifestFile first = manifest.files().getFirst();
        assertThat(admin().put("/v1/registry/uploads/" + id + "/files/" + first.path(), Files.readAllBytes(dir.resolve(first.path())))
                .status()).isEqualTo(200);
        assertThat(admin().get("/v1/registry/models/" + model).status()).isEqualTo(404);

        Http.Response early = admin().post("/v1/registry/uploads/" + id + "/commit", null);
        assertThat(early.status()).isEqualTo(409);
        assertThat(early.json().get("type").asString()).isEqualTo("urn:llm-registry:upload-incomplete");
        assertThat(early.json().get("detail").asString()).contains("2 of 3 files have not arrived");

        for (ManifestFile f : manifest.files().subList(1, 3)) {
            assertThat(admin().put("/v1/registry/uploads/" + id + "/files/" + f.path(), Files.readAllBytes(dir.resolve(f.path())))
                    .status()).isEqualTo(200);
        }
        Http.Response committed = admin().post("/v1/registry/uploads/" + id + "/commit", null);
        assertThat(committed.status()).as(committed.toString()).isEqualTo(201);
        assertThat(committed.json().get("version").asInt()).isEqualTo(1);
        assertThat(committed.header("Location")).isEqualTo("/v1/registry/models/" + model + "/versions/1");

        JsonNode version = reader().get("/v1/registry/models/" + model + "/versions/latest").json();
        assertThat(version.get("version").asInt()).isEqualTo(1);
        assertThat(version.get("file_count").asInt()).isEqualTo(3);
        assertThat(version.get("backend").asString()).isEqualTo("cpu");
        assertThat(version.get("created_by").asString()).isEqualTo("admin");
        assertThat(admin().get("/v1/registry/uploads/" + id).status()).as("the upload is gone once committed").isEqualTo(404);
    }

    @Test
    void shouldServeTheManifestVerbatimWithTheDigestTheVersionLists() throws Exception {
        String model = TestArtifacts.uniqueModel("manifest");
        PushResult pushed = client().push(TestArtifacts.smallDirectory(tmp.resolve("m"), 2), model,
                TestArtifacts.manifest(tmp.resolve("m")));
        Http.Response m = reader().get("/v1/registry/models/" + model + "/versions/" + pushed.version() + "/manifest");
        assertThat(m.status()).isEqualTo(200);
        assertThat(dev.llmplatform.engine.manifest.FileDigests.sha256(m.body())).isEqualTo(pushed.manifestSha256());
        assertThat(m.text()).isEqualTo(ManifestJson.toJson(TestArtifacts.manifest(tmp.resolve("m"))));
        assertThat(m.header("Cache-Control")).contains("immutable");
    }

    @Test
    void shouldServeByteRangesWithTheWholeFilesDigest() throws Exception {
        String model = TestArtifacts.uniqueModel("ranges");
        Path dir = TestArtifacts.smallDirectory(tmp.resolve("r"), 3);
        client().push(dir, model, TestArtifacts.manifest(dir));
        byte[] whole = Files.readAllBytes(dir.resolve("model.safetensors"));
        String sha = dev.llmplatform.engine.manifest.FileDigests.sha256(whole);
        String path = "/v1/registry/models/" + model + "/versions/1/files/model.safetensors";

        Http.Response full = reader().get(path);
        assertThat(full.status()).isEqualTo(200);
        assertThat(full.body()).isEqualTo(whole);
        assertThat(full.header("ETag")).isEqualTo("\"" + sha + "\"");
        assertThat(full.header("Repr-Digest")).isEqualTo("sha-256=:" + Base64.getEncoder().encodeToString(HexFormat.of().parseHex(sha)) + ":");
        assertThat(full.header("Accept-Ranges")).isEqualTo("bytes");

        Http.Response part = reader().get(path, "Range", "bytes=1000-1999");
        assertThat(part.status()).isEqualTo(206);
        assertThat(part.header("Content-Range")).isEqualTo("bytes 1000-1999/" + whole.length);
        assertThat(part.body()).isEqualTo(Arrays.copyOfRange(whole, 1000, 2000));
        assertThat(part.header("Repr-Digest")).isEqualTo(full.header("Repr-Digest"));

        assertThat(reader().get(path, "Range", "bytes=-10").body()).isEqualTo(Arrays.copyOfRange(whole, whole.length - 10, whole.length));
        assertThat(reader().get(path, "Range", "bytes=299990-").body()).isEqualTo(Arrays.copyOfRange(whole, 299_990, whole.length));

        Http.Response beyond = reader().get(path, "Range", "bytes=" + whole.length + "-");
        assertThat(beyond.status()).isEqualTo(416);
        assertThat(beyond.header("Content-Range")).isEqualTo("bytes */" + whole.length);

        Http.Response changed = reader().get(path, "Range", "bytes=0-9", "If-Range", "\"" + "0".repeat(64) + "\"");
        assertThat(changed.status()).as("If-Range with another ETag gets the whole file").isEqualTo(200);
        assertThat(changed.body()).isEqualTo(whole);

        Http.Response head = reader().head(path);
        assertThat(head.status()).isEqualTo(200);
        assertThat(head.header("Content-Length")).isEqualTo(Integer.toString(whole.length));

        Http.Response nested = reader().get("/v1/registry/models/" + model + "/versions/latest/files/tokenizer/tokenizer.json");
        assertThat(nested.body()).isEqualTo(Files.readAllBytes(dir.resolve("tokenizer/tokenizer.json")));
    }

    @Test
    void shouldRefuseBytesWhoseDigestDiffersFromTheManifestAndKeepNothing() throws Exception {
        String model = TestArtifacts.uniqueModel("digest");
        Path dir = TestArtifacts.smallDirectory(tmp.resolve("d"), 4);
        String id = open(admin(), model, TestArtifacts.manifestJson(dir)).get("upload_id").asString();
        byte[] tampered = Files.readAllBytes(dir.resolve("model.safetensors"));
        tampered[12345] ^= 1;

        Http.Response r = admin().put("/v1/registry/uploads/" + id + "/files/model.safetensors", tampered);
        assertThat(r.status()).isEqualTo(422);
        assertThat(r.header("Content-Type")).startsWith("application/problem+json");
        assertThat(r.json().get("type").asString()).isEqualTo("urn:llm-registry:digest-mismatch");
        assertThat(r.json().get("detail").asString()).contains("model.safetensors").contains("sha256");

        Http.Response shorter = admin().put("/v1/registry/uploads/" + id + "/files/model.safetensors", Arrays.copyOf(tampered, 100));
        assertThat(shorter.status()).isEqualTo(422);
        assertThat(shorter.json().get("type").asString()).isEqualTo("urn:llm-registry:size-mismatch");

        assertThat(admin().get("/v1/registry/uploads/" + id).json().get("files").findValuesAsString("path")).isNotEmpty();
        assertThat(admin().get("/v1/registry/uploads/" + id).json().get("files").get(1).get("stored").asBoolean()).isFalse();
        assertThat(blobs.list("models/" + model + "/" + id + "/")).isEmpty();

        Http.Response unknown = admin().put("/v1/registry/uploads/" + id + "/files/other.bin", new byte[]{1});
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.json().get("detail").asString()).contains("other.bin");
    }

    @Test
    void shouldRefuseManifestsWhosePathsEscapeTheArtifactDirectory() throws Exception {
        Path dir = TestArtifacts.smallDirectory(tmp.resolve("e"), 5);
        String json = TestArtifacts.manifestJson(dir).replace("\"tokenizer/tokenizer.json\"", "\"../../etc/passwd\"");
        String model = TestArtifacts.uniqueModel("escape");
        Http.Response r = admin().post("/v1/registry/models/" + model + "/uploads", json);
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().get("type").asString()).isEqualTo("urn:llm-registry:invalid-manifest");
        assertThat(r.json().get("detail").asString()).contains("../../etc/passwd").contains("escapes");
        assertThat(jdbc.sql("SELECT COUNT(*) FROM upload WHERE model_name = ?").param(model).query(Long.class).single())
                .as("nothing recorded for a refused manifest").isZero();
    }

    @Test
    void shouldRefuseBadModelNamesAndOversizedVersionsNamingTheRule() throws Exception {
        Path dir = TestArtifacts.smallDirectory(tmp.resolve("n"), 6);
        String json = TestArtifacts.manifestJson(dir);
        Http.Response upper = admin().post("/v1/registry/models/Bad.Name/uploads", json);
        assertThat(upper.status()).isEqualTo(400);
        assertThat(upper.json().get("type").asString()).isEqualTo("urn:llm-registry:invalid-name");
        assertThat(upper.json().get("detail").asString()).contains("Bad.Name");

        Http.Response dots = admin().post("/v1/registry/models/a..b/uploads", json);
        assertThat(dots.status()).isEqualTo(400);

        Http.Response tooLong = admin().post("/v1/registry/models/" + "x".repeat(129) + "/uploads", json);
        assertThat(tooLong.json().get("detail").asString()).contains("limit is 128");

        String huge = json.replaceFirst("\"size\" : 300000", "\"size\" : 999999999999");
        Http.Response tooLarge = admin().post("/v1/registry/models/" + TestArtifacts.uniqueModel("big") + "/uploads", huge);
        assertThat(tooLarge.status()).isEqualTo(413);
        assertThat(tooLarge.json().get("detail").asString()).contains("model.safetensors").contains("max-file-size");

        Http.Response notJson = admin().post("/v1/registry/models/" + TestArtifacts.uniqueModel("junk") + "/uploads", "{nope");
        assertThat(notJson.status()).isEqualTo(400);
        assertThat(notJson.json().get("type").asString()).isEqualTo("urn:llm-registry:invalid-manifest");
    }

    @Test
    void shouldNumberVersionsConsecutivelyAndListThemNewestFirst() throws Exception {
        String model = TestArtifacts.uniqueModel("numbers");
        for (int i = 0; i < 3; i++) {
            Path dir = TestArtifacts.directory(tmp.resolve("v" + i), 10 + i, Map.of("w.bin", 1000 + i));
            assertThat(client().push(dir, model, TestArtifacts.manifest(dir)).version()).isEqualTo(i + 1);
        }
        JsonNode list = reader().get("/v1/registry/models/" + model + "/versions").json().get("versions");
        assertThat(list.findValuesAsString("model")).hasSize(3);
        assertThat(list.get(0).get("version").asInt()).isEqualTo(3);
        assertThat(reader().get("/v1/registry/models/" + model + "/versions?backend=cuda").json().get("versions")).isEmpty();
        assertThat(reader().get("/v1/registry/models").json().get("models").findValuesAsString("name")).contains(model);
        Http.Response none = reader().get("/v1/registry/models/" + model + "/versions/stable");
        assertThat(none.status()).isEqualTo(404);
        assertThat(none.json().get("detail").asString()).contains("no stable version");
    }
}
