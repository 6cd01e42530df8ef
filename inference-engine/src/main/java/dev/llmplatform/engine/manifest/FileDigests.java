package dev.llmplatform.engine.manifest;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collection;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.regex.Pattern;

/** SHA-256 helpers shared by the engine's build step, the registry and its client. Files are read in 1 MiB chunks. */
public final class FileDigests {
    private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");

    private FileDigests() {
    }

    public static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    /** The lower-case hex sha256 of a file's contents, streamed. */
    public static String sha256(Path file) throws IOException {
        MessageDigest md = newSha256();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    public static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(newSha256().digest(bytes));
    }

    public static boolean isSha256Hex(String s) {
        return s != null && SHA256_HEX.matcher(s).matches();
    }

    /**
     * One digest for a set of files, independent of the order they are listed in: the sha256 of the lines
     * {@code "<sha256>  <path>\n"} sorted by path (what {@code sha256sum} prints, sorted). A checkpoint directory's
     * identity for {@link SourceCheckpoint}.
     */
    public static String treeDigest(Collection<ManifestFile> files) {
        StringBuilder lines = new StringBuilder();
        files.stream().sorted(Comparator.comparing(ManifestFile::path))
                .forEach(f -> lines.append(f.sha256()).append("  ").append(f.path()).append('\n'));
        return sha256(lines.toString().getBytes(StandardCharsets.UTF_8));
    }
}
