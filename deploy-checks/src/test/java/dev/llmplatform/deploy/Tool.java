package dev.llmplatform.deploy;

import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A command-line tool the checks run as it is installed (docker-compose from Debian, kubectl). CI installs them
 * ({@code .ci/run}); elsewhere a missing tool skips the checks that need it, with a message, unless {@code CI} is set.
 */
final class Tool {
    record Result(int exitCode, String stdout, String stderr) {
    }

    private Tool() {
    }

    /** Skips the calling test (or fails it in CI) when the tool is not on the PATH. */
    static void require(String name) {
        boolean found = findOnPath(name);
        if (!found && System.getenv("CI") != null) {
            fail(name + " is not on the PATH (CI must install it: see .ci/run)");
        }
        assumeTrue(found, name + " is not installed: skipping the checks that run it");
    }

    static Result run(List<String> command) {
        try {
            Path out = Files.createTempFile("tool", ".out");
            Path err = Files.createTempFile("tool", ".err");
            try {
                Process p = new ProcessBuilder(command).directory(Repo.ROOT.toFile())
                        .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
                if (!p.waitFor(60, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    fail(String.join(" ", command) + " did not finish in 60s");
                }
                return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                        Files.readString(err, StandardCharsets.UTF_8));
            } finally {
                Files.deleteIfExists(out);
                Files.deleteIfExists(err);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + command + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Runs the command and returns its standard output; fails the test with its error output when it fails. */
    static String output(String... command) {
        Result r = run(new ArrayList<>(List.of(command)));
        if (r.exitCode() != 0) {
            fail(String.join(" ", command) + " exited with " + r.exitCode() + ":\n" + r.stderr() + r.stdout());
        }
        return r.stdout();
    }

    private static boolean findOnPath(String name) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, name))) {
                return true;
            }
        }
        return false;
    }
}
