package dev.llmplatform.engine.registry;

import dev.llmplatform.engine.manifest.ArtifactDirectory;
import dev.llmplatform.engine.manifest.EngineManifest;
import dev.llmplatform.engine.manifest.FileDigests;
import dev.llmplatform.engine.manifest.ManifestFile;
import dev.llmplatform.engine.manifest.ManifestJson;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Pulls a version into a directory and proves every byte: resolves the reference to a version number first, then
 * fetches each file into a hidden {@code .NAME.part} beside its place, resuming an earlier partial download with an
 * HTTP Range request, and moves it into place only when its size and sha256 match the manifest. Files already
 * present with the right digest are not fetched again. The manifest is written last, so a directory with an
 * {@value EngineManifest#FILE_NAME} is a complete, verified artifact.
 */
final class ArtifactPuller {
    private final RegistryHttp http;

    ArtifactPuller(RegistryHttp http) {
        this.http = http;
    }

    PullResult pull(ModelReference ref, Path out) throws IOException {
        VersionInfo v = http.sendJson(http.request("/v1/registry/models/" + ref.model() + "/versions/" + ref.ref()).GET().build(),
                VersionInfo.class);
        String versionPath = "/v1/registry/models/" + ref.model() + "/versions/" + v.version();
        byte[] manifestBytes;
        try (InputStream in = http.send(http.request(versionPath + "/manifest").GET().build()).body()) {
            manifestBytes = in.readAllBytes();
        }
        if (v.manifestSha256() != null && !FileDigests.sha256(manifestBytes).equals(v.manifestSha256())) {
            throw new RegistryException(0, null, ref + ": the manifest's sha256 differs from the one the registry lists");
        }
        EngineManifest manifest = ManifestJson.parse(new String(manifestBytes, java.nio.charset.StandardCharsets.UTF_8));
        Files.createDirectories(out);
        long fetched = 0;
        for (ManifestFile f : manifest.files()) {
            fetched += fetch(versionPath, f, out);
        }
        Path manifestFile = out.resolve(EngineManifest.FILE_NAME);
        Path tmp = out.resolve("." + EngineManifest.FILE_NAME + ".part");
        Files.write(tmp, manifestBytes);
        Files.move(tmp, manifestFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return new PullResult(ref.model(), v.version(), manifest.files().size(), fetched, out);
    }

    /** Brings one file into place, verified; returns the bytes transferred (0 when it was already there). */
    private long fetch(String versionPath, ManifestFile f, Path out) throws IOException {
        Path target = ArtifactDirectory.resolve(out, f.path());
        if (Files.isRegularFile(target) && Files.size(target) == f.size() && FileDigests.sha256(target).equals(f.sha256())) {
            return 0;
        }
        Files.createDirectories(target.getParent());
        Path part = target.resolveSibling("." + target.getFileName() + ".part");
        long have = Files.isRegularFile(part) ? Files.size(part) : 0;
        if (have > f.size()) {
            Files.delete(part);
            have = 0;
        }
        MessageDigest md = FileDigests.newSha256();
        if (have > 0) {
            digestInto(md, part);
        }
        long transferred = 0;
        if (have < f.size() || f.size() == 0) {
            HttpRequest.Builder get = http.request(versionPath + "/files/" + f.path()).GET();
            if (have > 0) {
                // Resume: only the missing tail, and only if the server still has the same content (strong ETag).
                get.header("Range", "bytes=" + have + "-").header("If-Range", "\"" + f.sha256() + "\"");
            }
            HttpResponse<InputStream> r = http.send(get.build());
            checkAdvertisedDigest(r, f);
            boolean append = r.statusCode() == 206;
            if (!append) {
                md.reset();
            }
            try (InputStream in = r.body();
                 OutputStream o = Files.newOutputStream(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                         append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
                byte[] buf = new byte[1 << 20];
                for (int n; (n = in.read(buf)) > 0; ) {
                    md.update(buf, 0, n);
                    o.write(buf, 0, n);
                    transferred += n;
                }
            } catch (IOException e) {
                throw new RegistryException(f.path() + ": download broke off after " + transferred
                        + " bytes (the partial file is kept; pull again to resume): " + e.getMessage(), e);
            }
        }
        long size = Files.size(part);
        String actual = HexFormat.of().formatHex(md.digest());
        if (size != f.size() || !actual.equals(f.sha256())) {
            Files.deleteIfExists(part);
            throw new RegistryException(0, null, f.path() + ": downloaded " + size + " bytes with sha256 " + actual
                    + ", the manifest says " + f.size() + " bytes with sha256 " + f.sha256()
                    + " (corrupted in storage or in transit; the partial file was removed)");
        }
        Files.move(part, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return transferred;
    }

    /** The registry names the whole file's digest in Repr-Digest (RFC 9530); it must be the manifest's. */
    private static void checkAdvertisedDigest(HttpResponse<?> r, ManifestFile f) throws RegistryException {
        String expected = "sha-256=:" + Base64.getEncoder().encodeToString(HexFormat.of().parseHex(f.sha256())) + ":";
        String advertised = r.headers().firstValue("Repr-Digest").orElse(null);
        if (advertised != null && !advertised.contains(expected)) {
            throw new RegistryException(0, null, f.path() + ": the registry serves digest " + advertised
                    + ", the manifest says " + expected);
        }
    }

    private static void digestInto(MessageDigest md, Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
    }
}
