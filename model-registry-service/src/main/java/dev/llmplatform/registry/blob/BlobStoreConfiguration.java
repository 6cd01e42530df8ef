package dev.llmplatform.registry.blob;

import dev.llmplatform.registry.config.RegistryProperties;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;

/** Picks the blob store that {@code llm.registry.storage.type} names. */
@Configuration(proxyBeanMethods = false)
class BlobStoreConfiguration {
    private static final Logger log = LoggerFactory.getLogger(BlobStoreConfiguration.class);

    @Bean
    BlobStore blobStore(RegistryProperties properties) throws IOException {
        RegistryProperties.Storage storage = properties.storage();
        BlobStore store = switch (storage.type()) {
            case FILESYSTEM -> new FilesystemBlobStore(storage.filesystem().root());
            case S3 -> new S3BlobStore(s3Client(storage.s3()), storage.s3().bucket(), storage.s3().prefix(),
                    storage.s3().partSize().toBytes());
        };
        log.info("blobs in {}", store.describe());
        return store;
    }

    private static S3Client s3Client(RegistryProperties.S3 s3) {
        S3ClientBuilder b = S3Client.builder().region(Region.of(s3.region())).forcePathStyle(s3.pathStyleAccess());
        if (s3.endpoint() != null) {
            b.endpointOverride(s3.endpoint());
        }
        if (s3.accessKeyId() != null && !s3.accessKeyId().isBlank()) {
            b.credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(s3.accessKeyId(), s3.secretAccessKey())));
        } else {
            b.credentialsProvider(DefaultCredentialsProvider.builder().build());
        }
        return b.build();
    }
}
