package dev.llmplatform.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llmplatform.testsupport.ServiceProcess;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

/**
 * The platform end to end, each service a separate process on loopback, no Docker: the registry (H2 and local
 * files), two inference instances and the gateway. The bundled model is pushed twice with the engine's command line
 * (versions 1 and 2); instance A serves version 1 and B version 2, both pulled from the registry; version 1 is
 * stable and version 2 the canary at 30%. Streamed chat completions through the gateway, from distinct callers, land
 * on B about 30% of the time (counted by each instance's own request counter); after the promotion, all of them do.
 */
@Timeout(value = 420, unit = TimeUnit.SECONDS)
class CanaryRolloutEndToEndTest {
    private static final String MODEL = "kjv-demo";
    private static final String ADMIN_TOKEN = "e2e-admin-token";
    /** The API key the test's client presents to the gateway (which is configured with its SHA-256 only). */
    private static final String CLIENT_KEY = "sk-e2e-client";
    private static final int CANARY_PERCENT = 30;
    /** How long a service may take to become ready: seconds on an idle machine, more on a busy CI runner. */
    private static final Duration STARTUP = Duration.ofSeconds(180);
    /** JVM flags for services that only need to start fast here (C1 only, one GC thread, a small heap). */
    private static final List<String> QUICK_START = List.of("-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC");
    private static final ObjectMapper JSON = JsonMapper.builder().build();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private static final Pattern CHAT_REQUESTS = Pattern.compile(
            "^llm_requests_total\\{([^}]*)}\\s+([0-9.eE+-]+)$", Pattern.MULTILINE);

    private final Path work = Path.of(System.getProperty("e2e.work", "target/e2e-run")).toAbsolutePath();

    private static Path jar(String name) {
        String override = System.getProperty("e2e." + name + ".jar");
        Path jar = override != null ? Path.of(override) : Path.of(System.getProperty("e2e.jars", "target/e2e"), name + ".jar");
        assertThat(jar).as("%s's jar (built by the reactor, copied by maven-dependency-plugin)", name).isRegularFile();
        return jar;
    }

    @Test
    void splitsStreamedChatsBetweenStableAndCanaryThenSendsEveryoneToThePromotedVersion() throws Exception {
        deleteRecursively(work);
        int registryPort = ServiceProcess.freePort();
        int portA = ServiceProcess.freePort();
        int portB = ServiceProcess.freePort();
        URI registryUrl = ServiceProcess.url(registryPort, "");
        try (Processes processes = new Processes()) {
            ServiceProcess registry = processes.add(startRegistry(registryPort));
            // The gateway needs nothing at start (it polls its instances and follows the registry once they answer).
            ServiceProcess gateway = processes.add(startGateway(registryUrl, portA, portB));
            registry.awaitGet("/actuator/health", body -> body.contains("\"UP\""), STARTUP);

            // Each instance starts as soon as the version it pulls exists; the rollout is set while they boot.
            assertThat(engine(registryUrl, "registry", "push", Repo.path("models/kjv-demo").toString(), "--name", MODEL))
                    .contains(MODEL + "@1");
            ServiceProcess a = processes.add(startInference("inference-a", portA, registryUrl, 1));
            assertThat(engine(registryUrl, "registry", "push", Repo.path("models/kjv-demo").toString(), "--name", MODEL))
                    .contains(MODEL + "@2");
            ServiceProcess b = processes.add(startInference("inference-b", portB, registryUrl, 2));
            engine(registryUrl, "registry", "rollout", "start", MODEL, "--version", "1");
            engine(registryUrl, "registry", "rollout", "promote", MODEL);
            engine(registryUrl, "registry", "rollout", "start", MODEL, "--version", "2", "--percent",
                    Integer.toString(CANARY_PERCENT));

            for (ServiceProcess instance : List.of(a, b)) {
                instance.awaitGet("/actuator/health/readiness", body -> body.contains("\"UP\""), STARTUP);
            }
            gateway.awaitGet("/actuator/health", body -> inRotation(body).equals(Set.of(1, 2))
                    && rollout(body, 1, 2, CANARY_PERCENT), Duration.ofSeconds(60));

            // Split: distinct callers (the request's user) fall on either side by a hash of who they are.
            int n = 200;
            Map<String, Double> beforeA = servedChats(a);
            Map<String, Double> beforeB = servedChats(b);
            streamChats(gateway, "split", n);
            double onA = delta(beforeA, servedChats(a));
            double onB = delta(beforeB, servedChats(b));
            assertThat(onA + onB).as("every streamed chat was served by A or B").isEqualTo(n);
            double expected = n * CANARY_PERCENT / 100.0;
            double sigma = Math.sqrt(n * (CANARY_PERCENT / 100.0) * (1 - CANARY_PERCENT / 100.0));
            assertThat(onB).as("chats on the canary (version 2) of %d at %d%%: expected %.0f +- 4 sigma (%.1f)", n,
                    CANARY_PERCENT, expected, 4 * sigma).isBetween(expected - 4 * sigma, expected + 4 * sigma);

            engine(registryUrl, "registry", "rollout", "promote", MODEL);
            gateway.awaitGet("/actuator/health", body -> rollout(body, 2, null, 0), Duration.ofSeconds(30));

            int m = 100;
            beforeA = servedChats(a);
            beforeB = servedChats(b);
            streamChats(gateway, "promoted", m);
            assertThat(delta(beforeA, servedChats(a))).as("chats on A (version 1) after promoting version 2").isZero();
            assertThat(delta(beforeB, servedChats(b))).as("chats on B (version 2) after promoting it").isEqualTo(m);
        }
    }

    /** The processes started so far, stopped in reverse order at the end however the test ends. */
    private static final class Processes implements AutoCloseable {
        private final java.util.Deque<ServiceProcess> started = new java.util.ArrayDeque<>();

        ServiceProcess add(ServiceProcess p) {
            started.push(p);
            return p;
        }

        @Override
        public void close() {
            while (!started.isEmpty()) {
                started.pop().close();
            }
        }
    }

    private ServiceProcess startRegistry(int port) {
        return ServiceProcess.start("model-registry", port, jar("model-registry-service"), QUICK_START,
                List.of("--spring.datasource.url=jdbc:h2:file:" + work.resolve("registry/db") + ";DB_CLOSE_ON_EXIT=FALSE",
                        "--llm.registry.storage.filesystem.root=" + work.resolve("registry/blobs")),
                Map.of("LLM_REGISTRY_SECURITY_ADMINTOKENS_E2E", ADMIN_TOKEN), work.resolve("registry"));
    }

    private ServiceProcess startInference(String name, int port, URI registry, int version) {
        // C2 stays on: the engine's Vector API kernels are only fast once compiled by it.
        return ServiceProcess.start(name, port, jar("inference-service"),
                List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx384m",
                        "-XX:+UseSerialGC"),
                List.of("--llm.inference.model=registry:" + MODEL + "@" + version,
                        "--llm.inference.registry.url=" + registry,
                        "--llm.inference.registry.cache-dir=" + work.resolve(name + "/models"),
                        "--llm.inference.threads=1", "--llm.inference.max-running=8"),
                Map.of(), work.resolve(name));
    }

    private ServiceProcess startGateway(URI registry, int portA, int portB) {
        return ServiceProcess.start("gateway", ServiceProcess.freePort(), jar("gateway-service"), QUICK_START,
                List.of("--llm.gateway.instances[0]=" + ServiceProcess.url(portA, ""),
                        "--llm.gateway.instances[1]=" + ServiceProcess.url(portB, ""),
                        "--llm.gateway.registry.url=" + registry, "--llm.gateway.registry.reconnect-delay=500ms",
                        "--llm.gateway.auth.keys[0].name=e2e", "--llm.gateway.auth.keys[0].sha256=" + sha256(CLIENT_KEY),
                        "--llm.gateway.health.interval=500ms"),
                Map.of(), work.resolve("gateway"));
    }

    /** Runs the engine's command line against the registry; returns its output, failing on a non-zero exit. */
    private String engine(URI registry, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar", jar("engine-cli").toString()));
        command.addAll(List.of(args));
        command.addAll(List.of("--registry", registry.toString(), "--token", ADMIN_TOKEN));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("engine %s finished", String.join(" ", args)).isTrue();
        assertThat(p.exitValue()).as("engine %s: %s", String.join(" ", args), out).isZero();
        return out;
    }

    /** Streams n chat completions through the gateway, from callers prefix-0 .. prefix-(n-1), 4 at a time. */
    private static void streamChats(ServiceProcess gateway, String prefix, int n) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<String>> results = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String user = prefix + "-" + i;
                results.add(pool.submit(() -> streamChat(gateway, user)));
            }
            for (Future<String> r : results) {
                assertThat(r.get(60, TimeUnit.SECONDS)).as("a streamed completion's text").isNotEmpty();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** One streamed chat completion; returns the text of its deltas after checking the stream ended with [DONE]. */
    private static String streamChat(ServiceProcess gateway, String user) throws IOException, InterruptedException {
        String body = """
                {"model": "%s", "user": "%s", "max_tokens": 2, "temperature": 0, "stream": true,
                 "messages": [{"role": "user", "content": "In the beginning"}]}""".formatted(MODEL, user);
        HttpResponse<java.util.stream.Stream<String>> r = HTTP.send(HttpRequest.newBuilder(gateway.url("/v1/chat/completions"))
                        .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                        .header("Authorization", "Bearer " + CLIENT_KEY)
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofLines());
        List<String> data = r.body().filter(l -> l.startsWith("data:")).map(l -> l.substring(5).trim()).toList();
        assertThat(r.statusCode()).as("user %s: status (events %s)", user, data).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type").orElse("")).as("user %s: streamed", user).startsWith("text/event-stream");
        assertThat(data).as("user %s: events end with [DONE]", user).isNotEmpty().endsWith("[DONE]");
        StringBuilder text = new StringBuilder();
        for (String event : data.subList(0, data.size() - 1)) {
            JsonNode chunk = JSON.readTree(event);
            assertThat(chunk.has("error")).as("user %s: %s", user, event).isFalse();
            chunk.path("choices").forEach(c -> text.append(c.path("delta").path("content").asString("")));
        }
        return text.toString();
    }

    /** The instance's own count of chat completions by outcome (llm_requests_total{endpoint="chat_completions"}). */
    private static Map<String, Double> servedChats(ServiceProcess instance) {
        HttpResponse<String> r = instance.get("/actuator/prometheus");
        assertThat(r).as("%s answers /actuator/prometheus", instance.name()).isNotNull();
        Map<String, Double> byOutcome = new java.util.TreeMap<>();
        Matcher m = CHAT_REQUESTS.matcher(r.body());
        while (m.find()) {
            if (m.group(1).contains("endpoint=\"chat_completions\"")) {
                Matcher outcome = Pattern.compile("outcome=\"([^\"]*)\"").matcher(m.group(1));
                byOutcome.merge(outcome.find() ? outcome.group(1) : "", Double.parseDouble(m.group(2)), Double::sum);
            }
        }
        return byOutcome;
    }

    /** Chats that ended normally (stop, length) since before; any other outcome fails the test. */
    private static double delta(Map<String, Double> before, Map<String, Double> after) {
        double served = 0;
        for (var e : after.entrySet()) {
            double d = e.getValue() - before.getOrDefault(e.getKey(), 0.0);
            if (e.getKey().equals("stop") || e.getKey().equals("length")) {
                served += d;
            } else {
                assertThat(d).as("chats that ended as %s", e.getKey()).isZero();
            }
        }
        return served;
    }

    /** The registry versions of the instances the gateway has in rotation (its fleet health details). */
    private static Set<Integer> inRotation(String health) {
        Set<Integer> versions = new HashSet<>();
        for (JsonNode instance : JSON.readTree(health).path("components").path("fleet").path("details").path("instances")) {
            if (instance.path("inRotation").asBoolean(false) && instance.path("registryVersion").isInt()) {
                versions.add(instance.path("registryVersion").asInt());
            }
        }
        return versions;
    }

    /** Whether the gateway knows the model's rollout as this stable version, canary version and percent. */
    private static boolean rollout(String health, int stable, Integer canary, int percent) {
        JsonNode r = JSON.readTree(health).path("components").path("fleet").path("details").path("rollouts").path(MODEL);
        return r.path("stableVersion").asInt(-1) == stable
                && (canary == null ? r.path("canaryVersion").isNull() || r.path("canaryVersion").isMissingNode()
                : r.path("canaryVersion").asInt(-1) == canary && r.path("canaryPercent").asInt(-1) == percent);
    }

    private static String sha256(String s) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(s.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
