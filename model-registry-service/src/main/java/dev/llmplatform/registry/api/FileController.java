package dev.llmplatform.registry.api;

import dev.llmplatform.registry.artifact.DownloadService;
import dev.llmplatform.registry.store.StoredFile;
import dev.llmplatform.registry.store.VersionRecord;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;

/**
 * File downloads. Every answer names the whole file's sha256 twice: as the strong ETag (so {@code If-Range} can
 * resume safely) and as {@code Repr-Digest} (RFC 9530). A single {@code Range} gets 206; a whole-file answer is
 * verified while it streams and cut short if the stored bytes are corrupt.
 */
@RestController
@Tag(name = "files", description = "Download a version's files (HTTP Range supported)")
class FileController {
    private final DownloadService downloads;

    FileController(DownloadService downloads) {
        this.downloads = downloads;
    }

    @GetMapping("/v1/registry/models/{name}/versions/{ref}/files/{*path}")
    @Operation(summary = "Download a file of a version",
            description = "Supports Range (one range) and If-Range; ETag and Repr-Digest give the file's sha256.")
    void download(@PathVariable String name, @PathVariable String ref, @PathVariable String path, HttpServletRequest request,
                  HttpServletResponse response) throws IOException {
        VersionRecord v = downloads.resolve(name, ref);
        StoredFile f = downloads.file(v, path.startsWith("/") ? path.substring(1) : path);
        String etag = "\"" + f.sha256() + "\"";
        response.setHeader(HttpHeaders.ETAG, etag);
        response.setHeader(HttpHeaders.ACCEPT_RANGES, "bytes");
        response.setHeader("Repr-Digest", "sha-256=:" + Base64.getEncoder().encodeToString(HexFormat.of().parseHex(f.sha256())) + ":");
        response.setHeader("X-Registry-Version", Integer.toString(v.version()));
        response.setHeader(HttpHeaders.CACHE_CONTROL, ModelController.cacheFor(ref).getHeaderValue());
        response.setContentType(MediaType.APPLICATION_OCTET_STREAM_VALUE);
        boolean head = "HEAD".equals(request.getMethod());

        String range = request.getHeader(HttpHeaders.RANGE);
        String ifRange = request.getHeader(HttpHeaders.IF_RANGE);
        if (range != null && (ifRange == null || ifRange.equals(etag))) {
            Optional<ByteRange> r;
            try {
                r = ByteRange.parse(range, f.size());
            } catch (ByteRange.Unsatisfiable e) {
                response.setStatus(HttpServletResponse.SC_REQUESTED_RANGE_NOT_SATISFIABLE);
                response.setHeader(HttpHeaders.CONTENT_RANGE, "bytes */" + f.size());
                return;
            }
            if (r.isPresent()) {
                ByteRange b = r.get();
                response.setStatus(HttpServletResponse.SC_PARTIAL_CONTENT);
                response.setHeader(HttpHeaders.CONTENT_RANGE, "bytes " + b.start() + "-" + b.end() + "/" + f.size());
                response.setContentLengthLong(b.length());
                if (!head) {
                    downloads.copyRange(f, b.start(), b.length(), response.getOutputStream());
                }
                return;
            }
        }
        response.setContentLengthLong(f.size());
        if (!head) {
            downloads.copyWhole(v, f, response.getOutputStream());
        }
    }
}
