package dev.llmplatform.deploy;

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
 * One of the platform's services running as a separate JVM on loopback: started from its executable jar, its output
 * in a log file, stopped (gracefully, then forcibly) on close.
 */
final class ServiceProcess implements AutoCloseable {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    final String name;
    final int port;
    private final Path log;
    private final Process process;

    private ServiceProcess(String name, int port, Path log, Process process) {
        this.name = name;
        this.port = port;
        this.log = log;
        this.process = process;
    }

    /** Starts {@code java jvmArgs -jar jar --server.port=PORT args} in {@code workDir}. */
    static ServiceProcess start(String name, int port, Path jar, List<String> jvmArgs, List<String> args,
                                Map<String, String> env, Path workDir) {
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

    static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    URI url(String path) {
        return url(port, path);
    }

    static URI url(int port, String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    /** GETs the path; null when the service does not answer (yet). */
    HttpResponse<String> get(String path) {
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
    void awaitGet(String path, Predicate<String> condition, Duration timeout) {
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

    String logTail() {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    static void sleep(long millis) {
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
