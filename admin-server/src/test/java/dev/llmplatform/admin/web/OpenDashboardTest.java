package dev.llmplatform.admin.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llmplatform.admin.AdminServerApplication;
import dev.llmplatform.testsupport.ServiceProcess;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The dashboard as a developer starts it (login off, the default), pointed at a registry that is not there: pages
 * and APIs answer without credentials, and the Rollouts view's proxy says clearly why it has no rollouts.
 */
class OpenDashboardTest {
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static ConfigurableApplicationContext admin;
    private static URI base;
    private static int missingRegistryPort;

    @BeforeAll
    static void start() {
        missingRegistryPort = ServiceProcess.freePort();
        admin = new SpringApplicationBuilder(AdminServerApplication.class).run(
                "--server.port=0",
                "--spring.boot.admin.discovery.enabled=false",
                "--llm.admin.registry.url=http://127.0.0.1:" + missingRegistryPort,
                "--llm.admin.registry.timeout=2s");
        base = URI.create("http://127.0.0.1:" + admin.getEnvironment().getProperty("local.server.port"));
    }

    @AfterAll
    static void stop() {
        if (admin != null) {
            admin.close();
        }
    }

    private static HttpResponse<String> get(String path, String accept) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(base.resolve(path)).header("Accept", accept).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void everythingAnswersWithoutCredentials() throws Exception {
        assertThat(get("/applications", "application/json").body()).isEqualTo("[]");
        HttpResponse<String> page = get("/fleet/llm-metrics.html", "text/html");
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.body()).contains("<h1>LLM metrics</h1>");
        HttpResponse<String> metrics = get("/fleet/api/llm-metrics", "application/json");
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.body()).isEqualTo("{\"prefixes\":[\"llm_\"],\"instances\":[]}");
    }

    @Test
    void theNavigationOffersOurViews() throws Exception {
        // Spring Boot Admin renders its settings (external views included) into sba-settings.js for the UI.
        String settings = get("/sba-settings.js", "*/*").body();
        assertThat(settings).contains("\"label\":\"Rollouts\"", "rollouts.html", "\"label\":\"LLM metrics\"",
                "llm-metrics.html");
    }

    @Test
    void anUnreachableRegistryIsA502ProblemNamingIt() throws Exception {
        HttpResponse<String> r = get("/fleet/api/rollouts", "application/json");
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(r.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        assertThat(r.body())
                .contains("\"title\":\"Registry unavailable\"")
                .contains("the registry at http://127.0.0.1:" + missingRegistryPort + "/v1/registry/rollouts could not be reached")
                .contains("ConnectException");
    }

    @Test
    void aNameThatCannotBeAModelIsRefusedBeforeTheRegistryIsAsked() throws Exception {
        for (String name : new String[] {"KJV", "a..b", "-x", "kjv%20demo"}) {
            HttpResponse<String> r = get("/fleet/api/rollouts/" + name + "/history", "application/json");
            assertThat(r.statusCode()).as(name).isEqualTo(400);
            assertThat(r.body()).as(name).contains("\"title\":\"Invalid model name\"", "a model name is lower-case letters");
        }
    }
}
