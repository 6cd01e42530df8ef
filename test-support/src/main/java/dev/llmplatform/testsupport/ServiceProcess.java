package dev.llmplatform.testsupport;

import java.io.IOException;
import java.io.UncheckedIOException;
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
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * One of the platform's services running as a separate JVM on loopback, the way it is deployed: started from its
 * executable jar, its output in a log file (whose tail every failure quotes), stopped (gracefully, then forcibly) on
 * close. The services' tests (gateway, admin-server, deploy-checks) run their fleets with it.
 */
public final class ServiceProcess implements AutoCloseable {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private final String name;
    private final int port;
    private final Path log;
    private final Process process;

    private ServiceProcess(String name, int port, Path log, Process process) {
        this.name = name;
        this.port = port;
        this.log = log;
        this.process = process;
    }

    /**
     * Starts {@code java jvmArgs -jar jar --server.port=PORT args} in {@code workDir}, with {@code env} added to the
     * environment; the log is {@code workDir/NAME.log}.
     */
    public static ServiceProcess start(String name, int port, Path jar, List<String> jvmArgs, List<String> args,
                                       Map<String, String> env, Path workDir) {
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException(jar + " is missing (maven-dependency-plugin copies the services' jars "
                    + "before the tests run)");
        }
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmArgs);
        command.add("-jar");
        command.add(jar.toString());
        command.add("--server.port=" + port);
        command.addAll(args);
        try {
            Files.createDirectories(workDir);
            Path log = workDir.resolve(name + ".log");
            ProcessBuilder pb = new ProcessBuilder(command).directory(workDir.toFile()).redirectErrorStream(true)
                    .redirectOutput(log.toFile());
            pb.environment().putAll(env);
            return new ServiceProcess(name, port, log, pb.start());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + name, e);
        }
    }

    public String name() {
        return name;
    }

    public int port() {
        return port;
    }

    /** http://127.0.0.1:PORT */
    public URI baseUrl() {
        return url("");
    }

    /** A port nothing listens on at the moment of the call. */
    public static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public URI url(String path) {
        return url(port, path);
    }

    public static URI url(int port, String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    /** GETs the path; null when the service does not answer (yet). */
    public HttpResponse<String> get(String path) {
        try {
            return HTTP.send(HttpRequest.newBuilder(url(path)).timeout(Duration.ofSeconds(5)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Waits until GET path answers 200 with a body the condition accepts; fails with the log's tail otherwise. */
    public void awaitGet(String path, Predicate<String> condition, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = "no answer";
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new AssertionError(name + " exited with " + process.exitValue() + "; its log ends with:\n" + logTail());
            }
            HttpResponse<String> r = get(path);
            if (r != null) {
                last = r.statusCode() + " " + r.body();
                if (r.statusCode() == 200 && condition.test(r.body())) {
                    return;
                }
            }
            sleep(250);
        }
        throw new AssertionError(name + ": GET " + path + " not as expected within " + timeout + " (last: " + last
                + "); its log ends with:\n" + logTail());
    }

    public String logTail() {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
