package dev.llmplatform.registry.problem;

import org.springframework.http.HttpStatus;

/** A name, path, manifest or parameter that breaks the rules; the detail names it and the rule. */
public final class InvalidRequest extends RegistryProblem {
    public InvalidRequest(String slug, String detail) {
        super(HttpStatus.BAD_REQUEST, slug, "Invalid request", detail, null);
    }
}
