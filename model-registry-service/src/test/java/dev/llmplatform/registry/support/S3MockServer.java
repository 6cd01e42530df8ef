package dev.llmplatform.registry.support;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A real S3-protocol server for the tests: Adobe's S3Mock, run from its executable jar (fetched into target/ by
 * maven-dependency-plugin) as a separate process. Separate because S3Mock is a Spring Boot application of its
 * own, and two Boot applications in one JVM fight over auto-configuration. Started once per test JVM, stopped at
 * exit.
 */
public final class S3MockServer {
    public static final String BUCKET = "registry-test";

    private static S3MockServer shared;

    private final Process process;
    private final int port;
    private final Path log;

    private S3MockServer(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    public static synchronized S3MockServer shared() {
        if (shared == null) {
            try {
                shared = start();
            } catch (IOException e) {
                throw new IllegalStateException("could not start S3Mock: " + e.getMessage(), e);
            }
            Runtime.getRuntime().addShutdownHook(new Thread(shared.process::destroy));
        }
        return shared;
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + port);
    }

    private static S3MockServer start() throws IOException {
        String jar = System.getProperty("s3mock.jar", "target/s3mock/s3mock-exec.jar");
        if (!Files.isRegularFile(Path.of(jar))) {
            throw new IOException(jar + " is missing: run the tests through Maven (its dependency plugin fetches S3Mock)");
        }
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path root = Files.createTempDirectory("s3mock");
        Path log = root.resolveSibling(root.getFileName() + ".log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(java, "-XX:TieredStopAtLevel=1", "-Xmx512m", "-jar", jar,
                "--http.port=" + port, "--server.port=0",
                "--com.adobe.testing.s3mock.store.root=" + root,
                "--com.adobe.testing.s3mock.store.initial-buckets=" + BUCKET,
                "--com.adobe.testing.s3mock.max-payload-size=1GB",
                "--logging.level.root=WARN"))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new IOException("S3Mock exited with " + p.exitValue() + ": " + Files.readString(log));
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return new S3MockServer(p, port, log);
            } catch (IOException notYet) {
                try {
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException(e);
                }
            }
        }
        p.destroy();
        throw new IOException("S3Mock did not open port " + port + " within 90 s; its log: " + log);
    }
}
