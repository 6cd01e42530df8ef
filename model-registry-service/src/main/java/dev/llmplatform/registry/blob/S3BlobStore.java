package dev.llmplatform.registry.blob;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.List;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.Delete;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Blobs as objects in an S3-compatible bucket (AWS SDK v2). A file up to {@code partSize} goes up in one PutObject;
 * a larger one as a multipart upload whose parts are each streamed straight from the request body (a part's length
 * is known in advance, so nothing is buffered), and which is aborted if any part fails, so no partial object is
 * ever visible. Reads use ranged GETs.
 */
public final class S3BlobStore implements BlobStore, AutoCloseable {
    private final S3Client s3;
    private final String bucket;
    private final String prefix;
    private final long partSize;

    public S3BlobStore(S3Client s3, String bucket, String prefix, long partSize) {
        this.s3 = s3;
        this.bucket = bucket;
        this.prefix = prefix == null || prefix.isEmpty() || prefix.endsWith("/") ? (prefix == null ? "" : prefix) : prefix + "/";
        this.partSize = partSize;
    }

    private String objectKey(String key) {
        return prefix + key;
    }

    @Override
    public void put(String key, InputStream in, long size) throws IOException {
        try {
            if (size <= partSize) {
                s3.putObject(b -> b.bucket(bucket).key(objectKey(key)).contentLength(size),
                        RequestBody.fromInputStream(new BoundedInputStream(in, size), size));
            } else {
                putMultipart(objectKey(key), in, size);
            }
        } catch (RuntimeException e) {
            throw failedPut(key, e);
        }
    }

    /**
     * The SDK reports a body that ended early as an IllegalStateException (or wraps the stream's EOFException); the
     * caller needs to tell "the client sent too few bytes" from "S3 failed", so the former becomes an EOFException.
     */
    private static IOException failedPut(String key, RuntimeException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.io.EOFException || (t instanceof IllegalStateException && String.valueOf(t.getMessage()).contains("fewer bytes"))) {
                java.io.EOFException eof = new java.io.EOFException("the stream ended before the declared size: " + t.getMessage());
                eof.initCause(e);
                return eof;
            }
            if (t instanceof IOException io && !(t instanceof java.io.UncheckedIOException)) {
                return new IOException("S3 put of " + key + " failed: " + io.getMessage(), e);
            }
        }
        return new IOException("S3 put of " + key + " failed: " + e.getMessage(), e);
    }

    private void putMultipart(String objectKey, InputStream in, long size) {
        // Note: S3 keeps the parts of an upload that is neither completed nor aborted; abort on every failure.
        String uploadId = s3.createMultipartUpload(b -> b.bucket(bucket).key(objectKey)).uploadId();
        try {
            List<CompletedPart> parts = new ArrayList<>();
            long offset = 0;
            for (int number = 1; offset < size; number++) {
                long length = Math.min(partSize, size - offset);
                int n = number;
                String etag = s3.uploadPart(b -> b.bucket(bucket).key(objectKey).uploadId(uploadId).partNumber(n).contentLength(length),
                        RequestBody.fromInputStream(new BoundedInputStream(in, length), length)).eTag();
                parts.add(CompletedPart.builder().partNumber(n).eTag(etag).build());
                offset += length;
            }
            s3.completeMultipartUpload(b -> b.bucket(bucket).key(objectKey).uploadId(uploadId)
                    .multipartUpload(m -> m.parts(parts)));
        } catch (RuntimeException e) {
            try {
                s3.abortMultipartUpload(b -> b.bucket(bucket).key(objectKey).uploadId(uploadId));
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    @Override
    public InputStream open(String key, long offset, long length) throws IOException {
        if (length == 0) {
            return InputStream.nullInputStream();
        }
        try {
            return s3.getObject(b -> b.bucket(bucket).key(objectKey(key)).range("bytes=" + offset + "-" + (offset + length - 1)));
        } catch (NoSuchKeyException e) {
            throw new NoSuchFileException(describe() + "/" + key);
        } catch (SdkException e) {
            throw new IOException("S3 get of " + key + " failed: " + e.getMessage(), e);
        }
    }

    @Override
    public List<String> list(String keyPrefix) throws IOException {
        try {
            return s3.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(objectKey(keyPrefix))).contents().stream()
                    .map(S3Object::key).map(k -> k.substring(prefix.length())).sorted().toList();
        } catch (SdkException e) {
            throw new IOException("S3 list of " + keyPrefix + " failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void delete(String key) throws IOException {
        try {
            s3.deleteObject(b -> b.bucket(bucket).key(objectKey(key)));
        } catch (SdkException e) {
            throw new IOException("S3 delete of " + key + " failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void deletePrefix(String keyPrefix) throws IOException {
        List<String> keys = list(keyPrefix);
        try {
            for (int i = 0; i < keys.size(); i += 1000) {
                List<ObjectIdentifier> batch = keys.subList(i, Math.min(keys.size(), i + 1000)).stream()
                        .map(k -> ObjectIdentifier.builder().key(objectKey(k)).build()).toList();
                s3.deleteObjects(b -> b.bucket(bucket).delete(Delete.builder().objects(batch).quiet(true).build()));
            }
            // Multipart uploads cut off by a crash hold storage but no object; clear any under this artifact too.
            s3.listMultipartUploadsPaginator(b -> b.bucket(bucket).prefix(objectKey(keyPrefix))).uploads()
                    .forEach(u -> s3.abortMultipartUpload(b -> b.bucket(bucket).key(u.key()).uploadId(u.uploadId())));
        } catch (SdkException e) {
            throw new IOException("S3 delete under " + keyPrefix + " failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        s3.close();
    }

    @Override
    public String describe() {
        return "s3://" + bucket + "/" + prefix;
    }
}
