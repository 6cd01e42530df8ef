package dev.llmplatform.registry.store;

import java.time.OffsetDateTime;

/**
 * An upload in progress. {@code state}: OPEN (files may arrive), COMMITTING (only inside the commit transaction, so
 * never seen by others once it ends), ABORTED (its blobs are being deleted; the janitor finishes the job).
 */
public record UploadRecord(String id, String model, String manifest, String state, OffsetDateTime createdAt,
                           OffsetDateTime expiresAt, String createdBy) {
    public static final String OPEN = "OPEN";
    public static final String COMMITTING = "COMMITTING";
    public static final String ABORTED = "ABORTED";
}
