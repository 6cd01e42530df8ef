package dev.llmplatform.engine.registry;

import dev.llmplatform.engine.manifest.ArtifactDirectory;
import dev.llmplatform.engine.manifest.EngineManifest;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.JsonNode;

/**
 * A client of the model registry's REST API ({@code /v1/registry/...}) over {@code java.net.http}: push a directory
 * as a new version, list, pull {@code model@version|stable|canary|latest} with digest verification, and drive a
 * rollout. What the {@code engine registry} commands use, and what a service embedding the engine can use to fetch
 * its model at start-up.
 */
public final class RegistryClient {
    private final RegistryHttp http;

    /** @param token the bearer token, or null for a registry that allows anonymous reads (writes always need one) */
    public RegistryClient(URI baseUrl, String token) {
        this.http = new RegistryHttp(baseUrl, token);
    }

    /** The manifest a push of {@code dir} would send (see {@link #push}). */
    public static EngineManifest manifestFor(Path dir, ArtifactDirectory.Description description) throws IOException {
        return ArtifactPusher.manifestFor(dir, description);
    }

    /** Pushes {@code dir} as the next version of {@code model}, described by {@code manifest}. */
    public PushResult push(Path dir, String model, EngineManifest manifest) throws IOException {
        return new ArtifactPusher(http).push(dir, model, manifest);
    }

    /** Pulls a version into {@code out}, verifying every file against the manifest; resumes partial downloads. */
    public PullResult pull(ModelReference ref, Path out) throws IOException {
        return new ArtifactPuller(http).pull(ref, out);
    }

    public List<ModelSummary> models() throws IOException {
        JsonNode n = http.sendJson(http.request("/v1/registry/models").GET().build());
        return List.of(RegistryHttp.JSON.treeToValue(n.path("models"), ModelSummary[].class));
    }

    public List<VersionInfo> versions(String model) throws IOException {
        JsonNode n = http.sendJson(http.request("/v1/registry/models/" + model + "/versions").GET().build());
        return List.of(RegistryHttp.JSON.treeToValue(n.path("versions"), VersionInfo[].class));
    }

    public VersionInfo version(ModelReference ref) throws IOException {
        return http.sendJson(http.request("/v1/registry/models/" + ref.model() + "/versions/" + ref.ref()).GET().build(),
                VersionInfo.class);
    }

    public RolloutState rollout(String model) throws IOException {
        return http.sendJson(http.request("/v1/registry/models/" + model + "/rollout").GET().build(), RolloutState.class);
    }

    /**
     * Starts a canary of {@code version} at {@code percent} of traffic ({@code null}: the registry's rule, 100% when
     * there is no stable version yet). {@code expectedRevision} null: whatever is current.
     */
    public RolloutState startCanary(String model, int version, Integer percent, Long expectedRevision) throws IOException {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("version", version);
        if (percent != null) {
            body.put("percent", percent);
        }
        return change(model, "canary", body, expectedRevision);
    }

    public RolloutState setCanaryPercent(String model, int percent, Long expectedRevision) throws IOException {
        return change(model, "percent", Map.of("percent", percent), expectedRevision);
    }

    public RolloutState promote(String model, Long expectedRevision) throws IOException {
        return change(model, "promote", Map.of(), expectedRevision);
    }

    public RolloutState rollback(String model, Long expectedRevision) throws IOException {
        return change(model, "rollback", Map.of(), expectedRevision);
    }

    private RolloutState change(String model, String action, Map<String, Object> body, Long expectedRevision) throws IOException {
        HttpRequest.Builder b = http.request("/v1/registry/models/" + model + "/rollout/" + action)
                .header("Content-Type", "application/json").POST(RegistryHttp.json(body));
        if (expectedRevision != null) {
            b.header("If-Match", "\"" + expectedRevision + "\"");
        }
        return http.sendJson(b.build(), RolloutState.class);
    }
}
