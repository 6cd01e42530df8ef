package dev.llmplatform.registry.blob;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.llmplatform.registry.support.S3MockServer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.NoSuchFileException;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/** The S3 blob store against a real S3-protocol server (S3Mock in its own process): the same contract as the filesystem's. */
class S3BlobStoreTest {
    private static final long PART = 5L * 1024 * 1024;
    private static S3Client s3;
    private static S3BlobStore store;

    @BeforeAll
    static void start() {
        s3 = S3Client.builder().endpointOverride(S3MockServer.shared().endpoint()).region(Region.US_EAST_1).forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("test", "test"))).build();
        store = new S3BlobStore(s3, S3MockServer.BUCKET, "unit", PART);
    }

    @AfterAll
    static void stop() {
        store.close();
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] read(String key, long offset, long length) throws IOException {
        try (InputStream in = store.open(key, offset, length)) {
            return in.readAllBytes();
        }
    }

    @Test
    void shouldStoreAndReadBackWholeFilesAndRanges() throws Exception {
        byte[] data = random(100_000, 1);
        store.put("models/m/a1/model.bin", new ByteArrayInputStream(data), data.length);
        assertThat(read("models/m/a1/model.bin", 0, data.length)).isEqualTo(data);
        assertThat(read("models/m/a1/model.bin", 500, 1000)).isEqualTo(Arrays.copyOfRange(data, 500, 1500));
        assertThat(store.list("models/m/a1/")).containsExactly("models/m/a1/model.bin");
    }

    @Test
    void shouldStreamAFileLargerThanOnePartAsAMultipartUpload() throws Exception {
        byte[] data = random((int) (2 * PART + 12_345), 2);
        ByteArrayInputStream in = new ByteArrayInputStream(data);
        store.put("models/m/a2/big.bin", in, data.length);
        assertThat(in.available()).as("exactly the declared bytes were consumed").isZero();
        assertThat(read("models/m/a2/big.bin", 0, data.length)).isEqualTo(data);
        assertThat(read("models/m/a2/big.bin", PART - 10, 20)).isEqualTo(Arrays.copyOfRange(data, (int) PART - 10, (int) PART + 10));
    }

    @Test
    void shouldLeaveNoObjectWhenTheStreamEndsEarly() throws Exception {
        byte[] data = random((int) (PART + 1000), 3);
        ByteArrayInputStream truncated = new ByteArrayInputStream(data, 0, (int) PART + 10);
        assertThatThrownBy(() -> store.put("models/m/a3/cut.bin", truncated, data.length)).isInstanceOf(IOException.class);
        assertThat(store.list("models/m/a3/")).isEmpty();
        assertThat(s3.listMultipartUploads(b -> b.bucket(S3MockServer.BUCKET).prefix("unit/models/m/a3/")).uploads())
                .as("the multipart upload was aborted").isEmpty();
    }

    @Test
    void shouldDeleteEverythingUnderAnArtifactPrefixAndNothingElse() throws Exception {
        for (String k : new String[]{"models/d/x/a", "models/d/x/sub/b", "models/d/y/a"}) {
            store.put(k, new ByteArrayInputStream(new byte[]{1, 2, 3}), 3);
        }
        store.deletePrefix("models/d/x/");
        assertThat(store.list("models/d/")).containsExactly("models/d/y/a");
        assertThatThrownBy(() -> read("models/d/x/a", 0, 3)).isInstanceOf(NoSuchFileException.class);
    }
}
