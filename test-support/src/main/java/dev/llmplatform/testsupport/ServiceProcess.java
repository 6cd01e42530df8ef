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
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;

/**
 * One of the platform's services running as a separate JVM on loopback, the way it is deployed: started from its
 * executable jar (or, for a process another test run started and left running, attached by its pid), its output in a
 * log file (whose tail every failure quotes), stopped (gracefully, then forcibly) on close. The services' tests
 * (gateway, admin-server, deploy-checks) run their fleets with it.
 *
 * <p>Failure drills: {@link #pause} (SIGSTOP: the port still accepts connections but nothing answers, the way a stuck
 * instance behaves), {@link #resume}, and {@link #kill} (SIGKILL, the way a crashed instance goes).
 */
public final class ServiceProcess implements AutoCloseable {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private final String name;
    private final int port;
    private final Path log;
    private final ProcessHandle process;
    /** The process when this JVM started it (for its exit status), or null when attached by pid. */
    private final Process child;

    private ServiceProcess(String name, int port, Path log, ProcessHandle process, Process child) {
        this.name = name;
        this.port = port;
        this.log = log;
        this.process = process;
        this.child = child;
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
        command.add(jar.toAbsolutePath().toString());
        command.add("--server.port=" + port);
        command.addAll(args);
        try {
            Files.createDirectories(workDir);
            Path log = workDir.resolve(name + ".log");
            ProcessBuilder pb = new ProcessBuilder(command).directory(workDir.toFile()).redirectErrorStream(true)
                    .redirectOutput(log.toFile());
            pb.environment().putAll(env);
            Process p = pb.start();
            return new ServiceProcess(name, port, log, p.toHandle(), p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + name, e);
        }
    }

    /**
     * A service started earlier, by another JVM (e.g. a fleet a developer left running between test runs), found by
     * its pid; its log is {@code log}.
     *
     * @throws IllegalStateException when no such process is running
     */
    public static ServiceProcess attach(String name, int port, long pid, Path log) {
        ProcessHandle h = ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                .orElseThrow(() -> new IllegalStateException(name + " (pid " + pid + ") is gone"));
        return new ServiceProcess(name, port, log, h, null);
    }

    public String name() {
        return name;
    }

    public int port() {
        return port;
    }

    public long pid() {
        return process.pid();
    }

    public boolean alive() {
        return process.isAlive();
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
                String status = child == null ? "" : " with " + child.exitValue();
                throw new AssertionError(name + " exited" + status + "; its log ends with:\n" + logTail());
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

    /** Waits until GET path answers 200, whatever the body (a health group that is UP). */
    public ServiceProcess awaitUp(String path, Duration timeout) {
        awaitGet(path, body -> true, timeout);
        return this;
    }

    /**
     * A counter or gauge of the service's {@code /actuator/prometheus}, summed over the series whose labels contain
     * {@code labelPart} (all of them when null).
     */
    public double metric(String metric, String labelPart) {
        HttpResponse<String> r = get("/actuator/prometheus");
        if (r == null || r.statusCode() != 200) {
            throw new AssertionError(name + ": /actuator/prometheus answered " + (r == null ? "nothing" : r.statusCode()));
        }
        double sum = 0;
        for (String line : r.body().split("\n")) {
            if ((line.startsWith(metric + "{") || line.startsWith(metric + " "))
                    && (labelPart == null || line.contains(labelPart))) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    /** Stops the process (SIGSTOP): it keeps its port, and connections are accepted but never answered. */
    public void pause() {
        signal("STOP");
    }

    /** Lets a paused process run again (SIGCONT). */
    public void resume() {
        signal("CONT");
    }

    private void signal(String signal) {
        try {
            int rc = new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).inheritIO().start().waitFor();
            if (rc != 0) {
                throw new IllegalStateException("kill -" + signal + " " + process.pid() + " (" + name + ") failed");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Ends the process at once (SIGKILL), the way a crashed service goes, and waits until it is gone. */
    public void kill() {
        process.destroyForcibly();
        awaitExit(Duration.ofSeconds(30));
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

    private boolean awaitExit(Duration timeout) {
        try {
            process.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (TimeoutException | ExecutionException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** SIGTERM (after SIGCONT, in case it was paused: a stopped process would not act on it), then SIGKILL. */
    @Override
    public void close() {
        if (!process.isAlive()) {
            return;
        }
        try {
            resume();
        } catch (RuntimeException e) {
            // It may have exited in between.
        }
        process.destroy();
        if (!awaitExit(Duration.ofSeconds(15))) {
            process.destroyForcibly();
            awaitExit(Duration.ofSeconds(5));
        }
    }
}
