package dev.llmplatform.registry.problem;

import org.springframework.http.HttpStatus;

/** A model, version, file or upload that does not exist (or is not visible yet). */
public final class NotFound extends RegistryProblem {
    public NotFound(String detail) {
        super(HttpStatus.NOT_FOUND, "not-found", "Not found", detail, null);
    }
}
