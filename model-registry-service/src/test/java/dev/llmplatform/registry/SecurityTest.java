package dev.llmplatform.registry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llmplatform.registry.support.Http;
import dev.llmplatform.registry.support.TestArtifacts;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Who may do what: reads with a read token (anonymous reads are off here), writes only with an admin token. */
class SecurityTest extends RegistryTestBase {
    @TempDir
    Path tmp;

    @Test
    void shouldRefuseReadsWithoutATokenWhenAnonymousReadsAreOff() {
        Http.Response r = anonymous().get("/v1/registry/models");
        assertThat(r.status()).isEqualTo(401);
        assertThat(r.header("WWW-Authenticate")).startsWith("Bearer");
        assertThat(r.header("Content-Type")).startsWith("application/problem+json");
        assertThat(r.json().get("type").asString()).isEqualTo("urn:llm-registry:unauthorized");
        assertThat(r.json().get("detail").asString()).contains("token");
    }

    @Test
    void shouldRefuseUnknownTokens() {
        assertThat(new Http(port, "guess").get("/v1/registry/models").status()).isEqualTo(401);
        assertThat(new Http(port, ADMIN_TOKEN + "x").post("/v1/registry/models/x/rollout/promote", "{}").status()).isEqualTo(401);
    }

    @Test
    void shouldLetReadTokensReadButNotWrite() throws Exception {
        assertThat(reader().get("/v1/registry/models").status()).isEqualTo(200);
        Path dir = TestArtifacts.smallDirectory(tmp.resolve("s"), 1);
        Http.Response r = reader().post("/v1/registry/models/" + TestArtifacts.uniqueModel("sec") + "/uploads",
                TestArtifacts.manifestJson(dir));
        assertThat(r.status()).isEqualTo(403);
        assertThat(r.json().get("detail").asString()).contains("gateway").contains("admin token");
    }

    @Test
    void shouldRefuseWritesWithoutAToken() {
        assertThat(anonymous().post("/v1/registry/models/any/rollout/rollback", "{}").status()).isEqualTo(401);
    }

    @Test
    void shouldServeTheOpenApiDocumentAndHealthWithoutAToken() {
        Http.Response docs = anonymous().get("/v3/api-docs");
        assertThat(docs.status()).isEqualTo(200);
        assertThat(docs.json().get("paths").has("/v1/registry/models/{name}/rollout/promote")).isTrue();
        assertThat(docs.json().get("paths").has("/v1/registry/uploads/{id}/files/{*path}")
                || docs.text().contains("/v1/registry/uploads/{id}/files/")).isTrue();
        assertThat(docs.json().get("components").get("securitySchemes").has("bearer")).isTrue();
        assertThat(anonymous().get("/actuator/health").status()).isEqualTo(200);
    }
}
