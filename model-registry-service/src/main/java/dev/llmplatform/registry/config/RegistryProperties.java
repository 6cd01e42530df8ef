package dev.llmplatform.registry.config;

import jakarta.validation.Valid;
import jakarta.validation.constraints.AssertTrue;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.annotation.Validated;

/**
 * Everything the registry can be told, under {@code llm.registry}. The database is Spring's own
 * {@code spring.datasource.*} (embedded H2 file by default, PostgreSQL in production).
 *
 * @param storage  where file bytes are kept
 * @param limits   how large and how many: refused before a byte is stored
 * @param security who may read and who may write
 * @param uploads  how long an unfinished upload is kept
 * @param events   the server-sent event stream of rollout changes
 */
@ConfigurationProperties("llm.registry")
@Validated
public record RegistryProperties(@Valid @NotNull @DefaultValue Storage storage,
                                 @Valid @NotNull @DefaultValue Limits limits,
                                 @Valid @NotNull @DefaultValue Security security,
                                 @Valid @NotNull @DefaultValue Uploads uploads,
                                 @Valid @NotNull @DefaultValue Events events) {

    public enum StorageType { FILESYSTEM, S3 }

    /**
     * @param type       {@code filesystem} (default: a directory on this machine) or {@code s3} (any S3-compatible store)
     * @param filesystem settings for {@code type: filesystem}
     * @param s3         settings for {@code type: s3}
     */
    public record Storage(@NotNull @DefaultValue("filesystem") StorageType type,
                          @Valid @NotNull @DefaultValue Filesystem filesystem,
                          @Valid @NotNull @DefaultValue S3 s3) {

        @AssertTrue(message = "llm.registry.storage.s3.bucket must be set when llm.registry.storage.type is s3")
        public boolean isS3BucketSetWhenUsed() {
            return type != StorageType.S3 || (s3.bucket() != null && !s3.bucket().isBlank());
        }
    }

    /** @param root the directory holding blobs (created if missing; default {@code ./data/blobs}) */
    public record Filesystem(@NotNull @DefaultValue("./data/blobs") Path root) {
    }

    /**
     * @param bucket          the bucket (must exist)
     * @param prefix          a key prefix inside the bucket, e.g. {@code registry/} (default: none)
     * @param endpoint        the S3 endpoint for S3-compatible stores (MinIO, Ceph, a test server); unset: AWS
     * @param region          the signing region (default {@code us-east-1})
     * @param pathStyleAccess address buckets as {@code endpoint/bucket} rather than {@code bucket.endpoint} (most
     *                        non-AWS stores need this)
     * @param accessKeyId     static credentials; unset: the AWS default chain (environment, profile, instance role)
     * @param secretAccessKey the secret for {@code accessKeyId}
     * @param partSize        files larger than this go up as a multipart upload in parts of this size, each streamed
     *                        straight from the request (S3's minimum is 5MB; default 64MB)
     */
    public record S3(String bucket, @DefaultValue("") String prefix, URI endpoint, @DefaultValue("us-east-1") String region,
                     @DefaultValue("false") boolean pathStyleAccess, String accessKeyId, String secretAccessKey,
                     @NotNull @DefaultValue("64MB") DataSize partSize) {

        @AssertTrue(message = "llm.registry.storage.s3.part-size must be at least 5MB (S3's smallest part)")
        public boolean isPartSizeAllowed() {
            return partSize.toBytes() >= DataSize.ofMegabytes(5).toBytes();
        }
    }

    /**
     * @param maxFileSize        largest single file (default 100GB)
     * @param maxVersionSize     largest sum of a version's files (default 1TB)
     * @param maxFilesPerVersion most files in one version (default 10000)
     * @param maxNameLength      longest model name, at most 128 (default 128)
     * @param maxManifestSize    largest manifest document accepted (default 4MB)
     */
    public record Limits(@NotNull @DefaultValue("100GB") DataSize maxFileSize,
                         @NotNull @DefaultValue("1TB") DataSize maxVersionSize,
                         @Min(1) @DefaultValue("10000") int maxFilesPerVersion,
                         @Min(1) @Max(128) @DefaultValue("128") int maxNameLength,
                         @NotNull @DefaultValue("4MB") DataSize maxManifestSize) {
    }

    /**
     * Bearer tokens, each under a name that the audit log records as the actor. Give them through the environment or
     * a secret store, e.g. {@code LLM_REGISTRY_SECURITY_ADMINTOKENS_CI=...}.
     *
     * @param anonymousReads whether reads need no token (default true); writes always need an admin token
     * @param adminTokens    name to token: may read and write (push, commit, roll out)
     * @param readTokens     name to token: may read (list, download, watch)
     */
    public record Security(@DefaultValue("true") boolean anonymousReads,
                           @NotNull @DefaultValue Map<String, String> adminTokens,
                           @NotNull @DefaultValue Map<String, String> readTokens) {
    }

    /**
     * @param ttl           how long an upload may stay open before the janitor deletes it and its bytes (default 24h)
     * @param sweepInterval how often the janitor looks for expired uploads (default 5m)
     */
    public record Uploads(@NotNull @DefaultValue("24h") Duration ttl, @NotNull @DefaultValue("5m") Duration sweepInterval) {
    }

    /**
     * @param timeout           how long one SSE connection lasts before the client must reconnect (default 30m)
     * @param heartbeatInterval how often an idle stream gets a comment line, so proxies keep it open (default 15s)
     */
    public record Events(@NotNull @DefaultValue("30m") Duration timeout,
                         @NotNull @DefaultValue("15s") Duration heartbeatInterval) {
    }
}
