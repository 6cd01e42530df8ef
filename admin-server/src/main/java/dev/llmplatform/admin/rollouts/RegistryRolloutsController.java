package dev.llmplatform.admin.rollouts;

import dev.llmplatform.admin.config.AdminProperties;
import java.net.URI;
import java.net.http.HttpClient;
import java.util.regex.Pattern;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.http.client.JdkClientHttpRequestFactory;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.client.RestClient;
import org.springframework.web.client.RestClientException;
import org.springframework.web.client.RestClientResponseException;

/**
 * The registry's rollouts as the Rollouts view reads them, passed through unchanged:
 * <ul>
 *   <li>{@code GET /fleet/api/rollouts}: the registry's {@code GET /v1/registry/rollouts} (every model's rollout);</li>
 *   <li>{@code GET /fleet/api/rollouts/{model}/history}: its {@code GET /v1/registry/models/{model}/rollout/history}
 *       (the audit log: who changed what, when, from what to what).</li>
 * </ul>
 * Going through the dashboard (rather than the browser calling the registry) keeps the registry's address and token
 * on the server and avoids a cross-origin call. Errors are problem details: a model name that cannot be one is a 400
 * here; the registry's own 4xx answers (unknown model) pass through with its detail; a registry that cannot be
 * reached, fails, or refuses our token is a 502 naming the registry URL and the failure.
 */
@RestController
class RegistryRolloutsController {
    /** The registry's rule for model names; anything else could not name a model, nor belongs in its URL path. */
    private static final Pattern MODEL_NAME = Pattern.compile("[a-z0-9][a-z0-9._-]*");

    private final RestClient registry;
    private final String registryBase;

    RegistryRolloutsController(AdminProperties properties) {
        AdminProperties.Registry config = properties.registry();
        HttpClient http = HttpClient.newBuilder().connectTimeout(config.timeout()).build();
        JdkClientHttpRequestFactory requests = new JdkClientHttpRequestFactory(http);
        requests.setReadTimeout(config.timeout());
        // Appended to, not resolved against: a registry behind a path prefix (https://ops.example/registry) keeps it.
        this.registryBase = config.url().toString().replaceAll("/+$", "");
        RestClient.Builder builder = RestClient.builder().requestFactory(requests);
        if (config.token() != null && !config.token().isBlank()) {
            builder.defaultHeader(HttpHeaders.AUTHORIZATION, "Bearer " + config.token());
        }
        this.registry = builder.build();
    }

    @GetMapping(path = "/fleet/api/rollouts", produces = MediaType.APPLICATION_JSON_VALUE)
    ResponseEntity<?> rollouts() {
        return passThrough("/v1/registry/rollouts");
    }

    @GetMapping(path = "/fleet/api/rollouts/{model}/history", produces = MediaType.APPLICATION_JSON_VALUE)
    ResponseEntity<?> history(@PathVariable String model) {
        if (!MODEL_NAME.matcher(model).matches() || model.contains("..")) {
            return problem(HttpStatus.BAD_REQUEST, "Invalid model name",
                    "a model name is lower-case letters, digits, '.', '_' and '-', starting with a letter or digit; got '"
                            + abbreviate(model) + "'");
        }
        return passThrough("/v1/registry/models/" + model + "/rollout/history");
    }

    private ResponseEntity<?> passThrough(String path) {
        URI url = URI.create(registryBase + path);
        try {
            String body = registry.get().uri(url).accept(MediaType.APPLICATION_JSON).retrieve().body(String.class);
            return ResponseEntity.ok().contentType(MediaType.APPLICATION_JSON).body(body);
        } catch (RestClientResponseException e) {
            HttpStatusCode status = e.getStatusCode();
            if (status.value() == 401 || status.value() == 403) {
                return unavailable("the registry at " + url + " refused the dashboard (" + status.value()
                        + "): set llm.admin.registry.token to one of its read tokens");
            }
            if (status.is4xxClientError()) {
                return problem(status, "Refused by the registry", registryDetail(e));
            }
            return unavailable("the registry at " + url + " answered " + status.value() + ": "
                    + abbreviate(e.getResponseBodyAsString()));
        } catch (RestClientException e) {
            return unavailable("the registry at " + url + " could not be reached: " + ioFailure(e));
        }
    }

    /** The registry's problem detail ("model 'x' not found"), or its body as text when it is not one. */
    private static String registryDetail(RestClientResponseException e) {
        try {
            ProblemDetail p = e.getResponseBodyAs(ProblemDetail.class);
            if (p != null && p.getDetail() != null) {
                return p.getDetail();
            }
        } catch (RuntimeException notAProblem) {
            // fall through to the raw body
        }
        return abbreviate(e.getResponseBodyAsString());
    }

    private static ResponseEntity<ProblemDetail> unavailable(String detail) {
        return problem(HttpStatus.BAD_GATEWAY, "Registry unavailable", detail);
    }

    private static ResponseEntity<ProblemDetail> problem(HttpStatusCode status, String title, String detail) {
        ProblemDetail problem = ProblemDetail.forStatusAndDetail(status, detail);
        problem.setTitle(title);
        return ResponseEntity.status(status).contentType(MediaType.APPLICATION_PROBLEM_JSON).body(problem);
    }

    /** The I/O failure under Spring's wrapper, e.g. "ConnectException" or "HttpTimeoutException: request timed out". */
    private static String ioFailure(RestClientException e) {
        Throwable t = e.getCause() != null ? e.getCause() : e;
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getClass().getSimpleName() + ": " + t.getMessage();
    }

    private static String abbreviate(String s) {
        String oneLine = s.replaceAll("\\s+", " ").strip();
        return oneLine.length() <= 300 ? oneLine : oneLine.substring(0, 300) + "...";
    }
}
