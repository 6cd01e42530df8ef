package dev.llmplatform.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.llmplatform.engine.manifest.ArtifactDirectory;
import dev.llmplatform.engine.manifest.FileDigests;
import dev.llmplatform.engine.manifest.ManifestFile;
import dev.llmplatform.engine.registry.ModelReference;
import dev.llmplatform.engine.registry.PullResult;
import dev.llmplatform.engine.registry.PushResult;
import dev.llmplatform.engine.registry.RegistryClient;
import dev.llmplatform.engine.registry.RegistryException;
import dev.llmplatform.registry.support.S3MockServer;
import dev.llmplatform.registry.support.TestArtifacts;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/** The registry with its production blob store: S3 (a real S3-protocol server), multipart for the 16 MB weights. */
class S3RegistryTest extends RegistryTestBase {
    private static final Path KJV = Path.of(System.getProperty("kjv.demo.dir", "../models/kjv-demo"));

    @TempDir
    Path tmp;

    @DynamicPropertySource
    static void s3(DynamicPropertyRegistry registry) {
        registry.add("llm.registry.storage.type", () -> "s3");
        registry.add("llm.registry.storage.s3.endpoint", () -> S3MockServer.shared().endpoint().toString());
        registry.add("llm.registry.storage.s3.bucket", () -> S3MockServer.BUCKET);
        registry.add("llm.registry.storage.s3.prefix", () -> "registry");
        registry.add("llm.registry.storage.s3.path-style-access", () -> "true");
        registry.add("llm.registry.storage.s3.access-key-id", () -> "test");
        registry.add("llm.registry.storage.s3.secret-access-key", () -> "test");
        registry.add("llm.registry.storage.s3.part-size", () -> "5MB");
    }

    @Test
    void shouldPushAndPullTheBundledModelThroughS3() throws Exception {
        RegistryClient client = client();
        PushResult pushed = client.push(KJV, "kjv-s3", RegistryClient.manifestFor(KJV, TestArtifacts.cpu()));
        assertThat(blobs.list("models/kjv-s3/")).hasSize(7);
        PullResult pulled = client.pull(ModelReference.parse("kjv-s3@" + pushed.version()), tmp.resolve("out"));
        assertThat(pulled.files()).isEqualTo(7);
        for (ManifestFile f : ArtifactDirectory.scan(KJV)) {
            assertThat(FileDigests.sha256(tmp.resolve("out").resolve(f.path()))).isEqualTo(f.sha256());
        }
    }

    @Test
    void shouldDetectAnObjectReplacedBehindTheRegistrysBack() throws Exception {
        Path dir = TestArtifacts.smallDirectory(tmp.resolve("src"), 11);
        String model = TestArtifacts.uniqueModel("s3corrupt");
        client().push(dir, model, TestArtifacts.manifest(dir));
        String key = jdbc.sql("SELECT blob_key FROM version_file WHERE model_name = ? AND path = 'model.safetensors'")
                .param(model).query(String.class).single();
        byte[] evil = new byte[300_000];
        try (S3Client s3 = S3Client.builder().endpointOverride(S3MockServer.shared().endpoint()).region(Region.US_EAST_1)
                .forcePathStyle(true).credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("test", "test")))
                .build()) {
            s3.putObject(b -> b.bucket(S3MockServer.BUCKET).key("registry/" + key), RequestBody.fromBytes(evil));
        }
        assertThatThrownBy(() -> client().pull(ModelReference.parse(model + "@1"), tmp.resolve("bad")))
                .isInstanceOf(RegistryException.class).hasMessageContaining("model.safetensors");
        assertThat(admin().post("/v1/registry/models/" + model + "/versions/1/verify", null).json().get("ok").asBoolean()).isFalse();
    }
}
