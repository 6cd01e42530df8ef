package dev.llmplatform.admin.security;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llmplatform.admin.AdminServerApplication;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The dashboard with its login switched on: who gets in and who does not.
 */
class DashboardSecurityTest {
    private static ConfigurableApplicationContext admin;
    private static URI base;
    private static final HttpClient HTTP = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();

    @BeforeAll
    static void start() {
        admin = new SpringApplicationBuilder(AdminServerApplication.class).run(
                "--server.port=0",
                "--spring.boot.admin.discovery.enabled=false",
                "--llm.admin.security.enabled=true",
                "--llm.admin.security.username=ops",
                "--llm.admin.security.password=s3cret");
        base = URI.create("http://127.0.0.1:" + admin.getEnvironment().getProperty("local.server.port"));
    }

    @AfterAll
    static void stop() {
        if (admin != null) {
            admin.close();
        }
    }

    private static HttpResponse<String> get(String path, String accept, String credentials)
            throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve(path)).header("Accept", accept);
        if (credentials != null) {
            request.header("Authorization", "Basic "
                    + Base64.getEncoder().encodeToString(credentials.getBytes(StandardCharsets.UTF_8)));
        }
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void apiCallsWithoutCredentialsAreRefused() throws Exception {
        HttpResponse<String> r = get("/fleet/api/rollouts", "application/json", null);
        assertThat(r.statusCode()).isEqualTo(401);
        assertThat(r.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Basic"));

        assertThat(get("/applications", "application/json", "ops:wrong").statusCode()).isEqualTo(401);
        assertThat(get("/fleet/api/llm-metrics", "application/json", "intruder:s3cret").statusCode()).isEqualTo(401);
    }

    @Test
    void browsersAreSentToTheLoginPage() throws Exception {
        HttpResponse<String> r = get("/fleet/rollouts.html", "text/html", null);
        assertThat(r.statusCode()).isEqualTo(302);
        assertThat(r.headers().firstValue("Location")).hasValueSatisfying(v -> assertThat(v).endsWith("/login"));

        HttpResponse<String> login = get("/login", "text/html", null);
        assertThat(login.statusCode()).isEqualTo(200);
        assertThat(login.body()).contains("csrf");
    }

    @Test
    void healthProbesStayOpen() throws Exception {
        HttpResponse<String> r = get("/actuator/health", "application/json", null);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("\"UP\"");
    }

    @Test
    void theSignedInUserSeesTheDashboardAndOurPagesMayBeFramedBySpringBootAdmin() throws Exception {
        HttpResponse<String> page = get("/fleet/rollouts.html", "text/html", "ops:s3cret");
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.body()).contains("<h1>Rollouts</h1>");
        assertThat(page.headers().firstValue("X-Frame-Options")).hasValue("SAMEORIGIN");

        HttpResponse<String> apps = get("/applications", "application/json", "ops:s3cret");
        assertThat(apps.statusCode()).isEqualTo(200);
        assertThat(apps.body()).isEqualTo("[]");
    }

    @Test
    void changesWithoutTheCsrfTokenAreRefused() throws Exception {
        // Even a signed-in caller cannot POST without the token a page of the dashboard would have sent.
        HttpRequest logout = HttpRequest.newBuilder(base.resolve("/logout"))
                .header("Authorization", "Basic " + Base64.getEncoder().encodeToString("ops:s3cret".getBytes(StandardCharsets.UTF_8)))
                .POST(HttpRequest.BodyPublishers.noBody()).build();
        assertThat(HTTP.send(logout, HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(403);
    }
}
