package dev.llmplatform.gateway.support;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A Boot jar (inference service or model registry) running as a separate process on a free port, its output in
 * {@code target/fleet-logs/<name>.log}. Can be paused (SIGSTOP: it accepts connections but answers nothing, the way
 * a stuck instance behaves), resumed, and killed.
 */
public final class InstanceProcess implements AutoCloseable {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private final String name;
    private final int port;
    private final ProcessHandle process;
    private final Path log;

    private InstanceProcess(String name, int port, ProcessHandle process, Path log) {
        this.name = name;
        this.port = port;
        this.process = process;
        this.log = log;
    }

    /** A process started earlier (by {@link FleetLauncher}), found by its pid. */
    static InstanceProcess attach(String name, int port, long pid) {
        ProcessHandle h = ProcessHandle.of(pid).orElseThrow(() -> new IllegalStateException(name + " (pid " + pid
                + ") is gone"));
        return new InstanceProcess(name, port, h, Path.of("target", "fleet-logs", name + ".log"));
    }

    /** The directory the fleet's jars were copied to by the build ({@code target/fleet}). */
    public static Path fleetDir() {
        return Path.of(System.getProperty("fleet.dir", "target/fleet"));
    }

    /** The repository's root (for models/kjv-demo). */
    public static Path repoDir() {
        return Path.of(System.getProperty("repo.dir", "..")).toAbsolutePath().normalize();
    }

    /** Starts an inference instance serving the bundled kjv-demo (or what {@code modelArgs} say) on one thread. */
    public static InstanceProcess inference(String name, String... modelArgs) throws IOException {
        List<String> args = new ArrayList<>(List.of("--llm.inference.threads=1", "--llm.inference.max-running=8"));
        boolean hasModel = false;
        for (String a : modelArgs) {
            hasModel |= a.startsWith("--llm.inference.model=");
            args.add(a);
        }
        if (!hasModel) {
            args.add("--llm.inference.model=" + repoDir().resolve("models/kjv-demo"));
        }
        return start(name, fleetDir().resolve("inference-service.jar"), Map.of(), args);
    }

    /** Starts a model registry on an in-memory H2 database and blobs under target/. */
    public static InstanceProcess registry(String name, String adminToken) throws IOException {
        Path blobs = Files.createTempDirectory(Path.of("target"), "registry-blobs-");
        return start(name, fleetDir().resolve("model-registry-service.jar"),
                Map.of("LLM_REGISTRY_SECURITY_ADMINTOKENS_TEST", adminToken),
                List.of("--spring.datasource.url=jdbc:h2:mem:registry;DB_CLOSE_DELAY=-1",
                        "--llm.registry.storage.filesystem.root=" + blobs.toAbsolutePath()));
    }

    private static InstanceProcess start(String name, Path jar, Map<String, String> env, List<String> appArgs)
            throws IOException {
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException(jar + " is missing: run the build (maven-dependency-plugin copies it)");
        }
        int port = freePort();
        Path logs = Files.createDirectories(Path.of("target", "fleet-logs"));
        Path log = logs.resolve(name + ".log");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-XX:+UseSerialGC", "-Xmx512m",
                "-jar", jar.toAbsolutePath().toString(), "--server.port=" + port));
        cmd.addAll(appArgs);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        return new InstanceProcess(name, port, pb.start().toHandle(), log);
    }

    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    public String name() {
        return name;
    }

    public int port() {
        return port;
    }

    public URI url() {
        return URI.create("http://127.0.0.1:" + port);
    }

    public long pid() {
        return process.pid();
    }

    /** Waits until {@code path} answers 200 (readiness), failing with the log's tail when the process dies. */
    public InstanceProcess awaitReady(String path, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException(name + " exited:\n" + tail());
            }
            try {
                HttpResponse<Void> r = HTTP.send(HttpRequest.newBuilder(url().resolve(path))
                        .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 200) {
                    return this;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException(name + " not ready within " + timeout + ":\n" + tail());
    }

    public InstanceProcess awaitReady() throws Exception {
        return awaitReady("/actuator/health/readiness", Duration.ofMinutes(3));
    }

    /** GET a path of this process, as text. */
    public String get(String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(url().resolve(path)).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    /** A counter or gauge of this instance's /actuator/prometheus, summed over the label sets containing {@code labelPart}. */
    public double metric(String name, String labelPart) throws Exception {
        double sum = 0;
        for (String line : get("/actuator/prometheus").split("\n")) {
            if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
                if (labelPart == null || line.contains(labelPart)) {
                    sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                }
            }
        }
        return sum;
    }

    public void pause() throws Exception {
        signal("STOP");
    }

    public void resume() throws Exception {
        signal("CONT");
    }

    private void signal(String sig) throws Exception {
        int rc = new ProcessBuilder("kill", "-" + sig, Long.toString(process.pid())).inheritIO().start().waitFor();
        if (rc != 0) {
            throw new IllegalStateException("kill -" + sig + " " + process.pid() + " failed");
        }
    }

    /** Ends the process at once (SIGKILL), the way a crashed instance goes. */
    public void kill() throws Exception {
        process.destroyForcibly();
        process.onExit().get(30, java.util.concurrent.TimeUnit.SECONDS);
    }

    public boolean alive() {
        return process.isAlive();
    }

    public String tail() {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            try {
                resume();
            } catch (Exception ignored) {
                // it may be gone already
            }
            process.destroy();
            try {
                process.onExit().get(10, java.util.concurrent.TimeUnit.SECONDS);
            } catch (Exception e) {
                process.destroyForcibly();
            }
        }
    }
}
