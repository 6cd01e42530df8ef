package dev.llmplatform.deploy;

import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.List;

/** The root .dockerignore: which paths of the build context Docker leaves out (patterns and ! exceptions). */
final class DockerIgnore {
    private record Rule(PathMatcher matcher, PathMatcher anywhere, boolean exception) {
    }

    private final List<Rule> rules = new ArrayList<>();

    DockerIgnore() {
        if (!Files.exists(Repo.path(".dockerignore"))) {
            return;
        }
        for (String line : Repo.read(".dockerignore").split("\n")) {
            String p = line.strip();
            if (p.isEmpty() || p.startsWith("#")) {
                continue;
            }
            boolean exception = p.startsWith("!");
            if (exception) {
                p = p.substring(1);
            }
            p = p.replaceAll("^/+", "").replaceAll("/+$", "");
            PathMatcher m = FileSystems.getDefault().getPathMatcher("glob:" + p);
            // Docker's "**/" also matches no directory at all: "**/target" excludes ./target.
            PathMatcher root = p.startsWith("**/") ? FileSystems.getDefault().getPathMatcher("glob:" + p.substring(3)) : null;
            rules.add(new Rule(m, root, exception));
        }
    }

    /** Whether the context path (relative to the root) or a directory above it is left out; the last rule wins. */
    boolean excludes(String relative) {
        Path path = Path.of(relative.replaceAll("/+$", ""));
        for (Path p = path; p != null; p = p.getParent()) {
            Boolean verdict = null;
            for (Rule r : rules) {
                if (r.matcher().matches(p) || (r.anywhere() != null && r.anywhere().matches(p))) {
                    verdict = !r.exception();
                }
            }
            if (Boolean.TRUE.equals(verdict)) {
                return true;
            }
        }
        return false;
    }
}
