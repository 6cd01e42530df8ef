package dev.llmplatform.registry;

import dev.llmplatform.engine.registry.RegistryClient;
import dev.llmplatform.registry.artifact.UploadJanitor;
import dev.llmplatform.registry.blob.BlobStore;
import dev.llmplatform.registry.support.Http;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The registry as tests meet it: the whole application on a random port, an in-memory H2 database, blobs in a temp
 * directory, reads requiring a token (so the access rules are exercised), an admin and a read token. Test classes
 * that add nothing to this share one running application.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "spring.datasource.url=jdbc:h2:mem:registry;DB_CLOSE_DELAY=-1",
        "llm.registry.security.anonymous-reads=false",
        "llm.registry.security.admin-tokens.admin=" + RegistryTestBase.ADMIN_TOKEN,
        "llm.registry.security.read-tokens.gateway=" + RegistryTestBase.READ_TOKEN,
        "llm.registry.limits.max-file-size=64MB",
        "llm.registry.limits.max-files-per-version=50",
        "logging.level.dev.llmplatform.registry=INFO"})
public abstract class RegistryTestBase {
    public static final String ADMIN_TOKEN = "admin-secret-token";
    public static final String READ_TOKEN = "gateway-read-token";
    private static final Path BLOB_ROOT = tempDir();

    @LocalServerPort
    protected int port;

    @Autowired
    protected JdbcClient jdbc;

    @Autowired
    protected BlobStore blobs;

    @Autowired
    protected UploadJanitor janitor;

    @DynamicPropertySource
    static void blobRoot(DynamicPropertyRegistry registry) {
        registry.add("llm.registry.storage.filesystem.root", BLOB_ROOT::toString);
    }

    protected Http admin() {
        return new Http(port, ADMIN_TOKEN);
    }

    protected Http reader() {
        return new Http(port, READ_TOKEN);
    }

    protected Http anonymous() {
        return new Http(port, null);
    }

    protected RegistryClient client() {
        return new RegistryClient(URI.create("http://127.0.0.1:" + port), ADMIN_TOKEN);
    }

    protected String url() {
        return "http://127.0.0.1:" + port;
    }

    protected long rows(String table) {
        return jdbc.sql("SELECT COUNT(*) FROM " + table).query(Long.class).single();
    }

    private static Path tempDir() {
        try {
            return Files.createTempDirectory("registry-blobs");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
