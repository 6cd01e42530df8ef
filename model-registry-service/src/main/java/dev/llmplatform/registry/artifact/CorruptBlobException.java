package dev.llmplatform.registry.artifact;

import java.io.IOException;

/**
 * A stored blob no longer has the size or sha256 it was committed with (disk rot, an operator's mistake, a bucket
 * edited behind the registry's back). Raised while streaming, before the last bytes are sent, so the client's
 * download fails rather than completing with bad bytes.
 */
public class CorruptBlobException extends IOException {
    public CorruptBlobException(String message) {
        super(message);
    }
}
