package dev.llmplatform.registry.problem;

import java.util.Map;
import org.springframework.http.HttpStatus;

/**
 * The request is well-formed but the current state forbids it: an illegal rollout transition, a lost optimistic
 * race ({@code revision-conflict}), an upload committed before all files arrived. The state is unchanged.
 */
public final class Conflict extends RegistryProblem {
    public Conflict(String slug, String detail) {
        this(slug, detail, null);
    }

    public Conflict(String slug, String detail, Map<String, Object> properties) {
        super(HttpStatus.CONFLICT, slug, "Conflict", detail, properties);
    }
}
