package dev.llmplatform.registry.artifact;

import dev.llmplatform.engine.manifest.FileDigests;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * Copies a whole blob to a response while hashing it, holding back the last chunk until the digest is known. A blob
 * whose bytes do not match its recorded size and sha256 therefore never reaches a client complete: the response
 * stops short of its Content-Length and the client sees a failed transfer, not a corrupt file.
 */
final class VerifiedCopy {
    private static final int CHUNK = 64 * 1024;

    private VerifiedCopy() {
    }

    /** Returns the number of bytes written; throws {@link CorruptBlobException} (with the tail unsent) on a mismatch. */
    static long copy(InputStream in, OutputStream out, long expectedSize, String expectedSha256, String what) throws IOException {
        MessageDigest md = FileDigests.newSha256();
        byte[] current = new byte[CHUNK];
        byte[] held = new byte[CHUNK];
        int heldLength = 0;
        long total = 0;
        while (true) {
            int n = in.readNBytes(current, 0, CHUNK);
            if (n == 0) {
                break;
            }
            md.update(current, 0, n);
            total += n;
            if (heldLength > 0) {
                out.write(held, 0, heldLength);
            }
            byte[] t = held;
            held = current;
            current = t;
            heldLength = n;
        }
        String actual = HexFormat.of().formatHex(md.digest());
        if (total != expectedSize || !actual.equals(expectedSha256)) {
            throw new CorruptBlobException(what + ": stored blob has " + total + " bytes with sha256 " + actual + ", recorded "
                    + expectedSize + " bytes with sha256 " + expectedSha256);
        }
        out.write(held, 0, heldLength);
        return total;
    }
}
