package dev.llmplatform.registry.problem;

import java.net.URI;
import java.util.Map;
import org.springframework.http.HttpStatus;

/**
 * A refusal the client can act on, turned into an RFC 9457 problem detail at the HTTP edge: a stable
 * {@code type} ({@code urn:llm-registry:<slug>}) to branch on, a status, and a detail that names what is wrong.
 * Subclasses exist per kind of refusal so the code that throws reads as the rule it enforces.
 */
public abstract class RegistryProblem extends RuntimeException {
    private final HttpStatus status;
    private final String slug;
    private final String title;
    private final Map<String, Object> properties;

    protected RegistryProblem(HttpStatus status, String slug, String title, String detail, Map<String, Object> properties) {
        super(detail);
        this.status = status;
        this.slug = slug;
        this.title = title;
        this.properties = properties == null ? Map.of() : Map.copyOf(properties);
    }

    public HttpStatus status() {
        return status;
    }

    public URI type() {
        return URI.create("urn:llm-registry:" + slug);
    }

    public String title() {
        return title;
    }

    /** Extra members of the problem document, e.g. the current rollout state on a conflict. */
    public Map<String, Object> properties() {
        return properties;
    }
}
