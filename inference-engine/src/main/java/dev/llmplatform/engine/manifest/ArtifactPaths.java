package dev.llmplatform.engine.manifest;

import java.util.regex.Pattern;

/**
 * The rules for a file path inside an engine artifact. Paths travel from a manifest (written by anyone) to a
 * directory on a client or a key in a blob store, so they are checked in one place, by both sides: relative,
 * '/'-separated, no {@code .} or {@code ..} segments, no empty segments, no backslashes or drive letters, and only
 * characters that are safe on every file system and in URLs.
 */
public final class ArtifactPaths {
    /** Longest accepted path, in characters. */
    public static final int MAX_LENGTH = 512;

    private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9._+=-][A-Za-z0-9._+=@-]{0,254}");

    private ArtifactPaths() {
    }

    /** Returns {@code path} if it is a safe relative artifact path, else throws naming what is wrong with it. */
    public static String check(String path) {
        String problem = problem(path);
        if (problem != null) {
            throw new ManifestException("file path '" + printable(path) + "' " + problem);
        }
        return path;
    }

    /** Why {@code path} is refused, or null when it is acceptable. */
    public static String problem(String path) {
        if (path == null || path.isEmpty()) {
            return "is empty";
        }
        if (path.length() > MAX_LENGTH) {
            return "is longer than " + MAX_LENGTH + " characters";
        }
        if (path.startsWith("/")) {
            return "is absolute (paths are relative to the artifact root)";
        }
        if (path.indexOf('\\') >= 0 || path.indexOf(':') >= 0) {
            return "contains '\\' or ':' (use '/' between directories)";
        }
        for (String segment : path.split("/", -1)) {
            if (segment.isEmpty()) {
                return "has an empty segment";
            }
            if (segment.equals(".") || segment.equals("..")) {
                return "escapes the artifact directory ('" + segment + "' segment)";
            }
            if (!SEGMENT.matcher(segment).matches()) {
                return "has a segment with characters outside [A-Za-z0-9._+=@-]: '" + printable(segment) + "'";
            }
        }
        return null;
    }

    private static String printable(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder();
        s.codePoints().limit(200).forEach(c -> {
            if (c < 0x20 || c == 0x7f) {
                b.append(String.format("\\x%02x", c));
            } else {
                b.appendCodePoint(c);
            }
        });
        return b.toString();
    }
}
