package dev.llmplatform.registry.api;

import dev.llmplatform.registry.api.ApiViews.RolloutHistory;
import dev.llmplatform.registry.api.ApiViews.RolloutList;
import dev.llmplatform.registry.artifact.DownloadService;
import dev.llmplatform.registry.problem.InvalidRequest;
import dev.llmplatform.registry.rollout.Rollout;
import dev.llmplatform.registry.rollout.RolloutService;
import dev.llmplatform.registry.security.Caller;
import dev.llmplatform.registry.store.RolloutStore;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.validation.Valid;
import org.springframework.http.HttpHeaders;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RestController;

/**
 * Rollouts: read the state (its ETag is the revision), and change it with start canary / set percent / promote /
 * roll back. A change may send {@code If-Match: "<revision>"} to apply only to the state it was decided on; either
 * way a concurrent change makes it fail with 409 rather than overwrite.
 */
@RestController
@Tag(name = "rollouts", description = "Stable and canary versions per model")
class RolloutController {
    private final RolloutService rollouts;
    private final RolloutStore store;
    private final DownloadService downloads;

    RolloutController(RolloutService rollouts, RolloutStore store, DownloadService downloads) {
        this.rollouts = rollouts;
        this.store = store;
        this.downloads = downloads;
    }

    @GetMapping("/v1/registry/rollouts")
    @Operation(summary = "Every model's rollout, with the id of the newest change (resume the event stream from it)")
    RolloutList all() {
        long last = store.lastChangeId();
        return new RolloutList(rollouts.all(), last);
    }

    @GetMapping("/v1/registry/models/{name}/rollout")
    @Operation(summary = "A model's rollout; the ETag is its revision")
    ResponseEntity<Rollout> rollout(@PathVariable String name) {
        return withRevision(rollouts.current(downloads.model(name).name()));
    }

    @GetMapping("/v1/registry/models/{name}/rollout/history")
    @Operation(summary = "The audit log of a model's rollout: who changed what, when, from what to what")
    RolloutHistory history(@PathVariable String name) {
        downloads.model(name);
        return new RolloutHistory(name, store.history(name));
    }

    @PostMapping("/v1/registry/models/{name}/rollout/canary")
    @Operation(summary = "Start a canary")
    ResponseEntity<Rollout> startCanary(@PathVariable String name, @Valid @RequestBody RolloutRequests.StartCanary body,
                                        @Parameter(description = "\"<revision>\": apply only to this revision")
                                        @RequestHeader(value = HttpHeaders.IF_MATCH, required = false) String ifMatch,
                                        HttpServletRequest request) {
        downloads.model(name);
        return withRevision(rollouts.startCanary(name, body.version(), body.percent(), revision(ifMatch), Caller.of(request).name()));
    }

    @PostMapping("/v1/registry/models/{name}/rollout/percent")
    @Operation(summary = "Set the canary's share of traffic")
    ResponseEntity<Rollout> setPercent(@PathVariable String name, @Valid @RequestBody RolloutRequests.SetPercent body,
                                       @RequestHeader(value = HttpHeaders.IF_MATCH, required = false) String ifMatch,
                                       HttpServletRequest request) {
        downloads.model(name);
        return withRevision(rollouts.setCanaryPercent(name, body.percent(), revision(ifMatch), Caller.of(request).name()));
    }

    @PostMapping("/v1/registry/models/{name}/rollout/promote")
    @Operation(summary = "Promote: the canary becomes the stable version")
    ResponseEntity<Rollout> promote(@PathVariable String name,
                                    @RequestHeader(value = HttpHeaders.IF_MATCH, required = false) String ifMatch,
                                    HttpServletRequest request) {
        downloads.model(name);
        return withRevision(rollouts.promote(name, revision(ifMatch), Caller.of(request).name()));
    }

    @PostMapping("/v1/registry/models/{name}/rollout/rollback")
    @Operation(summary = "Roll back: remove the canary; all traffic returns to the stable version")
    ResponseEntity<Rollout> rollback(@PathVariable String name,
                                     @RequestHeader(value = HttpHeaders.IF_MATCH, required = false) String ifMatch,
                                     HttpServletRequest request) {
        downloads.model(name);
        return withRevision(rollouts.rollback(name, revision(ifMatch), Caller.of(request).name()));
    }

    private static ResponseEntity<Rollout> withRevision(Rollout r) {
        return ResponseEntity.ok().eTag("\"" + r.revision() + "\"").body(r);
    }

    /** {@code "7"} or {@code 7} or {@code W/"7"} to 7; {@code *} or absent to null (any revision). */
    static Long revision(String ifMatch) {
        if (ifMatch == null || ifMatch.isBlank() || ifMatch.strip().equals("*")) {
            return null;
        }
        String s = ifMatch.strip();
        if (s.startsWith("W/")) {
            s = s.substring(2);
        }
        s = s.replace("\"", "");
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new InvalidRequest("invalid-if-match", "If-Match must be a rollout revision like \"7\", got " + ifMatch);
        }
    }
}
