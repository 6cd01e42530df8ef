package dev.llmplatform.registry.blob;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;

/**
 * Where file bytes live. Keys are '/'-separated and built only by {@link BlobKeys} from checked names and paths.
 * Implementations stream in both directions (nothing the size of a file is held in memory) and make a blob
 * visible only whole: a failed {@link #put} leaves nothing under its key.
 */
public interface BlobStore {

    /** Stores exactly {@code size} bytes read from {@code in} (which is left open) under {@code key}, replacing any blob there. */
    void put(String key, InputStream in, long size) throws IOException;

    /** Reads {@code length} bytes starting at {@code offset}. Throws {@link java.nio.file.NoSuchFileException} if absent. */
    InputStream open(String key, long offset, long length) throws IOException;

    /** The keys under {@code prefix}, sorted. */
    List<String> list(String prefix) throws IOException;

    void delete(String key) throws IOException;

    /** Deletes every blob under {@code prefix} (an artifact's directory); nothing there is fine. */
    void deletePrefix(String prefix) throws IOException;

    /** A name for logs and health: "filesystem /var/lib/registry" or "s3://bucket/prefix". */
    String describe();
}
