package dev.llmplatform.admin;

import static org.assertj.core.api.Assertions.assertThat;

import de.codecentric.boot.admin.server.domain.entities.InstanceRepository;
import dev.llmplatform.admin.support.HeadlessChromium;
import dev.llmplatform.engine.manifest.ArtifactDirectory;
import dev.llmplatform.engine.manifest.Backend;
import dev.llmplatform.engine.manifest.Quantization;
import dev.llmplatform.engine.registry.RegistryClient;
import dev.llmplatform.testsupport.ServiceProcess;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The dashboard over a real fleet, seen through a real browser: a model registry and an inference service run from
 * their executable jars as separate processes (H2 and a temporary blob folder; the bundled kjv-demo model), a gateway
 * entry points at a port nothing listens on, and the admin server, configured only through its properties, is driven
 * by headless Chromium. Screenshots land in target/screenshots/.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FleetDashboardBrowserTest {
    // Generous: on a busy 2-core machine the registry alone has taken over a minute to start.
    private static final Duration STARTUP = Duration.ofSeconds(180);
    private static final Duration UI_WAIT = Duration.ofSeconds(40);
    private static final String ADMIN_TOKEN = "browser-test-token";
    private static final String DASHBOARD_USER = "ops";
    private static final String DASHBOARD_PASSWORD = "fleet-s3cret";

    @TempDir
    static Path work;

    private static ServiceProcess registry;
    private static ServiceProcess inference;
    private static ConfigurableApplicationContext admin;
    private static CompletableFuture<HeadlessChromium> chromiumStart;
    private static HeadlessChromium chromium;
    private static RegistryClient registryClient;
    private static String dashboard;

    @BeforeAll
    static void startFleet() throws Exception {
        Path fleetJars = Path.of(System.getProperty("fleet.dir", "target/fleet"));
        Path logs = Path.of("target", "fleet-logs");
        Path model = Path.of(System.getProperty("kjv.demo.dir", "../models/kjv-demo"));
        // Everything starts at once, the admin server first among equals, as in a fresh deployment: it must pick the
        // services up as they come. The registry runs no hot loops worth C2's compile time; the inference service does.
        registry = ServiceProcess.start("model-registry", ServiceProcess.freePort(), fleetJars.resolve("model-registry-service.jar"),
                List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"), List.of(
                        "--spring.datasource.url=jdbc:h2:file:" + work.resolve("registry-db") + ";DB_CLOSE_ON_EXIT=FALSE",
                        "--llm.registry.storage.filesystem.root=" + work.resolve("blobs"),
                        "--llm.registry.security.admin-tokens.browser-test=" + ADMIN_TOKEN),
                Map.of(), logs);
        inference = ServiceProcess.start("inference-service", ServiceProcess.freePort(), fleetJars.resolve("inference-service.jar"),
                List.of("-XX:+UseSerialGC", "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"),
                List.of("--llm.inference.model=" + model.toAbsolutePath(), "--llm.inference.threads=1"),
                Map.of(), logs);
        chromiumStart = CompletableFuture.supplyAsync(() -> {
            try {
                return new HeadlessChromium(Path.of(System.getProperty("screenshots.dir", "target/screenshots")));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        int unreachableGateway = ServiceProcess.freePort();
        admin = new SpringApplicationBuilder(AdminServerApplication.class).run(
                "--server.port=0",
                "--spring.cloud.discovery.client.simple.instances.gateway[0].uri=http://127.0.0.1:" + unreachableGateway,
                "--spring.cloud.discovery.client.simple.instances.model-registry[0].uri=" + registry.baseUrl(),
                "--spring.cloud.discovery.client.simple.instances.inference-service[0].uri=" + inference.baseUrl(),
                "--llm.admin.registry.url=" + registry.baseUrl(),
                // The production setting: the dashboard behind its login.
                "--llm.admin.security.enabled=true",
                "--llm.admin.security.username=" + DASHBOARD_USER,
                "--llm.admin.security.password=" + DASHBOARD_PASSWORD,
                // Check often and do not back off while the services are still starting.
                "--spring.boot.admin.monitor.status-interval=2s",
                "--spring.boot.admin.monitor.status-lifetime=2s",
                "--spring.boot.admin.monitor.status-max-backoff=2s",
                "--spring.boot.admin.monitor.info-max-backoff=2s");
        dashboard = "http://127.0.0.1:" + admin.getEnvironment().getProperty("local.server.port");

        // What the Rollouts view must show: kjv-demo stable at v1 with v2 as a 10% canary.
        registry.awaitGet("/actuator/health", body -> body.contains("\"UP\""), STARTUP);
        registryClient = new RegistryClient(registry.baseUrl(), ADMIN_TOKEN);
        ArtifactDirectory.Description bf16 = new ArtifactDirectory.Description("kjv-demo", Backend.CPU, null,
                Quantization.NONE, "any", 1, "admin-server-test");
        int v1 = registryClient.push(model, "kjv-demo", RegistryClient.manifestFor(model, bf16)).version();
        int v2 = registryClient.push(model, "kjv-demo", RegistryClient.manifestFor(model, bf16)).version();
        registryClient.startCanary("kjv-demo", v1, null, null);
        registryClient.promote("kjv-demo", null);
        registryClient.startCanary("kjv-demo", v2, 10, null);

        inference.awaitGet("/actuator/health/readiness", body -> body.contains("\"UP\""), STARTUP);
        // One real request, so the request and token counters have something to show.
        chat(inference.baseUrl(), "In the beginning");
        chromium = chromiumStart.join();
    }

    @AfterAll
    static void stopFleet() throws Exception {
        // The browser may still be starting, or have failed to, when the setup failed.
        HeadlessChromium started = chromiumStart == null ? null : chromiumStart.exceptionally(e -> null).join();
        try (AutoCloseable r = registry; AutoCloseable i = inference; AutoCloseable a = admin; AutoCloseable b = started) {
            // closed from the browser back to the registry, each even if another fails
        }
    }

    @Test
    @Order(1)
    void applicationsPageShowsEveryServiceWithItsHealth() throws IOException {
        WebDriver browser = chromium.driver();
        browser.get(dashboard + "/applications");
        // Signed out, the dashboard sends the browser to Spring Boot Admin's login form, then back where it was going.
        chromium.waitUpTo(UI_WAIT).until(ExpectedConditions.visibilityOfElementLocated(By.name("username")))
                .sendKeys(DASHBOARD_USER);
        browser.findElement(By.name("password")).sendKeys(DASHBOARD_PASSWORD);
        assertThat(Files.size(chromium.screenshot("login"))).isGreaterThan(5_000);
        browser.findElement(By.name("password")).submit();
        // Spring Security marks the redirect back to the saved request with "?continue".
        chromium.waitUpTo(UI_WAIT).until(ExpectedConditions.urlMatches("/applications(\\?continue)?$"));
        // Spring Boot Admin renders one panel per application (id = the discovery service id) with a status badge.
        chromium.waitUpTo(UI_WAIT).until(ExpectedConditions.textToBe(By.cssSelector("#model-registry [role=status]"), "UP"));
        chromium.waitUpTo(UI_WAIT).until(ExpectedConditions.textToBe(By.cssSelector("#inference-service [role=status]"), "UP"));
        chromium.waitUpTo(UI_WAIT).until(ExpectedConditions.textToBe(By.cssSelector("#gateway [role=status]"), "OFFLINE"));
        assertThat(browser.findElement(By.tagName("body")).getText()).contains("some instances are down");
        assertThat(Files.size(chromium.screenshot("applications"))).isGreaterThan(10_000);

        // An inference instance's details: its health components, the model's among them.
        String id = admin.getBean(InstanceRepository.class).findByName("inference-service").blockFirst().getId().getValue();
        browser.get(dashboard + "/instances/" + id + "/details");
        chromium.waitUpTo(UI_WAIT).until(ExpectedConditions.textToBePresentInElementLocated(By.tagName("body"), "kjv-demo"));
        assertThat(Files.size(chromium.screenshot("inference-instance"))).isGreaterThan(10_000);
    }

    @Test
    @Order(2)
    void rolloutsViewShowsTheRegistrysRolloutsAndFollowsChanges() throws IOException {
        WebDriver browser = chromium.driver();
        browser.get(dashboard + "/applications");
        // Reach the view the way an operator does: its entry in the navigation bar.
        chromium.waitUpTo(UI_WAIT).until(ExpectedConditions.elementToBeClickable(By.linkText("Rollouts"))).click();
        chromium.waitUpTo(UI_WAIT).until(ExpectedConditions.frameToBeAvailableAndSwitchToIt(By.cssSelector("iframe")));
        WebElement row = chromium.waitUpTo(UI_WAIT).until(
                ExpectedConditions.visibilityOfElementLocated(By.cssSelector("tr[data-model='kjv-demo']")));
        assertThat(cells(row)).containsExactly("kjv-demo", "v1", "v2", "10%", "3");
        browser.switchTo().defaultContent();
        assertThat(Files.size(chromium.screenshot("rollouts"))).isGreaterThan(10_000);

        // The view polls the registry: a change made elsewhere shows up without reloading the page.
        registryClient.setCanaryPercent("kjv-demo", 50, 3L);
        browser.switchTo().frame(browser.findElement(By.cssSelector("iframe")));
        chromium.waitUpTo(UI_WAIT).until(ExpectedConditions.textToBePresentInElementLocated(
                By.cssSelector("tr[data-model='kjv-demo']"), "50%"));
        assertThat(cells(browser.findElement(By.cssSelector("tr[data-model='kjv-demo']"))))
                .containsExactly("kjv-demo", "v1", "v2", "50%", "4");

        // A click on the model shows its audit log, newest first.
        browser.findElement(By.cssSelector("tr[data-model='kjv-demo']")).click();
        List<WebElement> changes = chromium.waitUpTo(UI_WAIT).until(ExpectedConditions.numberOfElementsToBe(
                By.cssSelector("#history[data-model='kjv-demo'] tbody tr"), 4));
        assertThat(cells(changes.getFirst()).subList(2, 4)).containsExactly("browser-test", "set percent");
        assertThat(changes.getFirst().getText()).contains("stable v1, canary v2 at 10%", "stable v1, canary v2 at 50%");
        assertThat(changes.getLast().getText()).contains("start canary", "nothing deployed", "canary v1 at 100%");
        browser.switchTo().defaultContent();
        assertThat(Files.size(chromium.screenshot("rollout-history"))).isGreaterThan(10_000);
    }

    @Test
    @Order(3)
    void anUnknownModelsHistoryIsTheRegistrys404() throws Exception {
        try (HttpClient http = HttpClient.newHttpClient()) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(dashboard + "/fleet/api/rollouts/no-such-model/history"))
                    .header("Authorization", "Basic " + Base64.getEncoder().encodeToString(
                            (DASHBOARD_USER + ":" + DASHBOARD_PASSWORD).getBytes(StandardCharsets.UTF_8)))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(404);
            assertThat(r.body()).contains("\"title\":\"Refused by the registry\"", "no-such-model");
        }
    }

    @Test
    @Order(4)
    void llmMetricsViewShowsTheInferenceInstancesSeries() throws IOException {
        WebDriver browser = chromium.driver();
        browser.get(dashboard + "/applications");
        chromium.waitUpTo(UI_WAIT).until(ExpectedConditions.elementToBeClickable(By.linkText("LLM metrics"))).click();
        chromium.waitUpTo(UI_WAIT).until(ExpectedConditions.frameToBeAvailableAndSwitchToIt(By.cssSelector("iframe")));
        By ready = By.cssSelector("[data-application='inference-service'] [data-metric='llm_model_ready'] .value");
        chromium.waitUpTo(UI_WAIT).until(ExpectedConditions.textToBe(ready, "yes"));
        String requests = browser.findElement(
                By.cssSelector("[data-application='inference-service'] [data-metric='llm_requests_total'] .value")).getText();
        assertThat(Integer.parseInt(requests)).isGreaterThanOrEqualTo(1);
        String generated = browser.findElement(
                By.cssSelector("[data-application='inference-service'] [data-metric='llm_generation_tokens_total'] .value")).getText();
        assertThat(Integer.parseInt(generated.replace(",", ""))).isGreaterThanOrEqualTo(1);
        String ttft = browser.findElement(By.cssSelector(
                "[data-application='inference-service'] [data-metric='llm_time_to_first_token_seconds'] .value")).getText();
        assertThat(ttft).matches("\\d+\\.\\d ms");
        // The registry's Prometheus endpoint has no llm_* series, and the gateway was never reached: both say so
        // instead of failing.
        assertThat(browser.findElement(By.cssSelector("[data-application='model-registry']")).getText())
                .contains("No series matching the configured prefixes");
        assertThat(browser.findElement(By.cssSelector("[data-application='gateway']")).getText())
                .contains("not known yet");
        browser.switchTo().defaultContent();
        assertThat(Files.size(chromium.screenshot("llm-metrics"))).isGreaterThan(10_000);
    }

    @Test
    @Order(5)
    void signingOutEndsTheSession() {
        WebDriver browser = chromium.driver();
        // What Spring Boot Admin's "Log out" menu item does: POST logout with the XSRF-TOKEN cookie's value as _csrf.
        ((JavascriptExecutor) browser).executeScript("""
                const token = document.cookie.split('; ').find(c => c.startsWith('XSRF-TOKEN=')).split('=')[1];
                const form = document.createElement('form');
                form.method = 'post';
                form.action = 'logout';
                const field = document.createElement('input');
                field.type = 'hidden';
                field.name = '_csrf';
                field.value = decodeURIComponent(token);
                form.appendChild(field);
                document.body.appendChild(form);
                form.submit();""");
        chromium.waitUpTo(UI_WAIT).until(ExpectedConditions.urlContains("/login?logout"));
        browser.get(dashboard + "/external/Rollouts");
        chromium.waitUpTo(UI_WAIT).until(ExpectedConditions.visibilityOfElementLocated(By.name("username")));
        assertThat(browser.getCurrentUrl()).endsWith("/login");
    }

    private static List<String> cells(WebElement row) {
        // Model, stable, canary, canary traffic, revision: the columns the rollout is about.
        return row.findElements(By.tagName("td")).stream().limit(5).map(WebElement::getText).toList();
    }

    private static void chat(URI inferenceUrl, String prompt) throws IOException, InterruptedException {
        String body = """
                {"model": "kjv-demo", "messages": [{"role": "user", "content": "%s"}], "max_tokens": 8}""".formatted(prompt);
        try (HttpClient http = HttpClient.newHttpClient()) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(inferenceUrl.resolve("/v1/chat/completions"))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as("chat completion: %s", r.body()).isEqualTo(200);
        }
    }
}
