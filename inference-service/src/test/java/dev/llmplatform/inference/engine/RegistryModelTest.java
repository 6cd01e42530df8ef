package dev.llmplatform.inference.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.sun.net.httpserver.HttpServer;
import dev.llmplatform.engine.manifest.ArtifactDirectory;
import dev.llmplatform.engine.manifest.Backend;
import dev.llmplatform.engine.manifest.EngineManifest;
import dev.llmplatform.engine.manifest.ManifestJson;
import dev.llmplatform.engine.manifest.Quantization;
import dev.llmplatform.engine.registry.RegistryClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * {@code llm.inference.model=registry:kjv-demo@stable}: the model is pulled through the registry client (from a
 * stand-in for the registry's HTTP API serving the bundled model as version 3) and served under its name.
 */
@SpringBootTest(properties = {"llm.inference.model=registry:kjv-demo@stable", "llm.inference.threads=1",
        "llm.inference.kv-cache-size=16MB"})
class RegistryModelTest {
    private static final Path KJV = ModelLocator.resolveLocal("models/kjv-demo");
    private static final List<String> requests = new CopyOnWriteArrayList<>();
    private static final HttpServer registry = start();
    private static Path cacheDir;

    private static HttpServer start() {
        try {
            EngineManifest manifest = RegistryClient.manifestFor(KJV, new ArtifactDirectory.Description("kjv-demo",
                    Backend.CPU, null, Quantization.NONE, "cpu", 1, "test"));
            byte[] manifestJson = ManifestJson.toJson(manifest).getBytes(StandardCharsets.UTF_8);
            long total = manifest.files().stream().mapToLong(f -> f.size()).sum();
            byte[] version = ("{\"model\":\"kjv-demo\",\"version\":3,\"backend\":\"cpu\",\"dtype\":\"bf16\","
                    + "\"quantization\":\"none\",\"target_hardware\":\"cpu\",\"file_count\":" + manifest.files().size()
                    + ",\"total_size\":" + total + ",\"manifest_sha256\":\""
                    + dev.llmplatform.engine.manifest.FileDigests.sha256(manifestJson) + "\",\"created_at\":\"2026-01-01T00:00:00Z\","
                    + "\"created_by\":\"test\"}").getBytes(StandardCharsets.UTF_8);
            String base = "/v1/registry/models/kjv-demo/versions/";
            HttpServer s = HttpServer.create(new InetSocketAddress("localhost", 0), 0);
            s.createContext("/", exchange -> {
                String path = exchange.getRequestURI().getPath();
                requests.add(path);
                byte[] body;
                if (path.equals(base + "stable") || path.equals(base + "3")) {
                    body = version;
                } else if (path.equals(base + "3/manifest")) {
                    body = manifestJson;
                } else if (path.startsWith(base + "3/files/")) {
                    body = Files.readAllBytes(KJV.resolve(path.substring((base + "3/files/").length())));
                } else {
                    body = "{}".getBytes(StandardCharsets.UTF_8);
                    exchange.sendResponseHeaders(404, body.length);
                    exchange.getResponseBody().write(body);
                    exchange.close();
                    return;
                }
                exchange.sendResponseHeaders(200, body.length);
                exchange.getResponseBody().write(body);
                exchange.close();
            });
            s.start();
            cacheDir = Files.createTempDirectory("registry-cache");
            return s;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @DynamicPropertySource
    static void registry(DynamicPropertyRegistry r) {
        r.add("llm.inference.registry.url", () -> "http://localhost:" + registry.getAddress().getPort());
        r.add("llm.inference.registry.cache-dir", () -> cacheDir.toString());
    }

    @AfterAll
    static void stop() {
        registry.stop(0);
    }

    @Autowired
    ServedModel served;

    @Test
    void aRegistryReferenceIsPulledVerifiedAndServed() throws Exception {
        assertThat(served.awaitReady(2, TimeUnit.MINUTES)).as("%s", served.failure()).isTrue();
        assertEquals("kjv-demo", served.name());
        assertThat(served.loaded().description().source()).contains("registry").contains("kjv-demo@3");
        ModelLocator.RegistryVersion pulledAs = served.loaded().description().registry();
        assertEquals("kjv-demo", pulledAs.model());
        assertEquals(3, pulledAs.version());
        assertThat(pulledAs.url()).startsWith("http://");
        Path pulled = cacheDir.resolve("kjv-demo/3");
        assertThat(pulled.resolve("model.safetensors")).hasSameBinaryContentAs(KJV.resolve("model.safetensors"));
        assertThat(pulled.resolve(EngineManifest.FILE_NAME)).exists();
        assertThat(requests).contains("/v1/registry/models/kjv-demo/versions/stable", "/v1/registry/models/kjv-demo/versions/3/manifest");
    }
}
