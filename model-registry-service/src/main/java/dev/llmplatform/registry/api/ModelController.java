package dev.llmplatform.registry.api;

import dev.llmplatform.registry.api.ApiViews.FileView;
import dev.llmplatform.registry.api.ApiViews.ModelDetail;
import dev.llmplatform.registry.api.ApiViews.ModelList;
import dev.llmplatform.registry.api.ApiViews.ModelView;
import dev.llmplatform.registry.api.ApiViews.VerifyReport;
import dev.llmplatform.registry.api.ApiViews.VersionDetail;
import dev.llmplatform.registry.api.ApiViews.VersionList;
import dev.llmplatform.registry.api.ApiViews.VersionView;
import dev.llmplatform.registry.artifact.DownloadService;
import dev.llmplatform.registry.rollout.RolloutService;
import dev.llmplatform.registry.store.ModelRecord;
import dev.llmplatform.registry.store.VersionRecord;
import dev.llmplatform.registry.store.VersionStore;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.tags.Tag;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.springframework.http.CacheControl;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/** Models and their versions: list, describe, fetch the manifest, re-verify the stored bytes. */
@RestController
@RequestMapping("/v1/registry/models")
@Tag(name = "models", description = "Models and their immutable versions")
class ModelController {
    private final VersionStore versions;
    private final DownloadService downloads;
    private final RolloutService rollouts;

    ModelController(VersionStore versions, DownloadService downloads, RolloutService rollouts) {
        this.versions = versions;
        this.downloads = downloads;
        this.rollouts = rollouts;
    }

    @GetMapping
    @Operation(summary = "List models")
    ModelList models() {
        return new ModelList(versions.models().stream().map(ModelView::of).toList());
    }

    @GetMapping("/{name}")
    @Operation(summary = "Describe a model and its current rollout")
    ModelDetail model(@PathVariable String name) {
        ModelRecord m = downloads.model(name);
        return new ModelDetail(m.name(), m.latestVersion(), m.createdAt(), rollouts.current(name));
    }

    @GetMapping("/{name}/versions")
    @Operation(summary = "List a model's versions, newest first", description = "Optionally only those of one backend or quantization method.")
    VersionList versions(@PathVariable String name,
                         @Parameter(description = "cpu, cuda or tensorrt") @RequestParam(required = false) String backend,
                         @Parameter(description = "quantization method, e.g. none, awq") @RequestParam(required = false) String quantization) {
        downloads.model(name);
        return new VersionList(name, versions.versions(name, backend, quantization).stream().map(VersionView::of).toList());
    }

    @GetMapping("/{name}/versions/{ref}")
    @Operation(summary = "Describe a version", description = "ref: a version number, stable, canary or latest.")
    ResponseEntity<VersionDetail> version(@PathVariable String name, @PathVariable String ref) {
        VersionRecord v = downloads.resolve(name, ref);
        String base = "/v1/registry/models/" + name + "/versions/" + v.version();
        List<FileView> files = downloads.files(v).stream()
                .map(f -> new FileView(f.path(), f.size(), f.sha256(), base + "/files/" + f.path())).toList();
        return ResponseEntity.ok().cacheControl(cacheFor(ref)).body(new VersionDetail(v.model(), v.version(), v.backend(),
                v.dtype(), v.quantization(), v.targetHardware(), v.fileCount(), v.totalSize(), v.manifestSha256(), v.createdAt(),
                v.createdBy(), base + "/manifest", files));
    }

    @GetMapping(value = "/{name}/versions/{ref}/manifest", produces = MediaType.APPLICATION_JSON_VALUE)
    @Operation(summary = "The version's engine-manifest.json, byte for byte as pushed",
            description = "Its sha256 is the version's manifest_sha256; every file's size and sha256 are in it.")
    ResponseEntity<byte[]> manifest(@PathVariable String name, @PathVariable String ref) {
        VersionRecord v = downloads.resolve(name, ref);
        return ResponseEntity.ok().cacheControl(cacheFor(ref)).eTag("\"" + v.manifestSha256() + "\"")
                .header("X-Registry-Version", Integer.toString(v.version()))
                .contentType(MediaType.APPLICATION_JSON).body(v.manifest().getBytes(StandardCharsets.UTF_8));
    }

    @PostMapping("/{name}/versions/{ref}/verify")
    @Operation(summary = "Re-read every stored file of a version and compare it with its recorded size and sha256 (admin)")
    VerifyReport verify(@PathVariable String name, @PathVariable String ref) {
        VersionRecord v = downloads.resolve(name, ref);
        List<DownloadService.FileCheck> checks = downloads.verify(v);
        return new VerifyReport(v.model(), v.version(), checks.stream().allMatch(DownloadService.FileCheck::ok), checks);
    }

    /** A numbered version never changes; what stable or canary point to does. */
    static CacheControl cacheFor(String ref) {
        return Character.isDigit(ref.charAt(0)) ? CacheControl.maxAge(java.time.Duration.ofDays(365)).cachePublic().immutable()
                : CacheControl.noCache();
    }
}
