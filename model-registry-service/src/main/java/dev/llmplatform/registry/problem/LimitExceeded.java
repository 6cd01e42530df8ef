package dev.llmplatform.registry.problem;

import org.springframework.http.HttpStatus;

/** A file, version or manifest larger (or with more files) than {@code llm.registry.limits} allows. */
public final class LimitExceeded extends RegistryProblem {
    public LimitExceeded(String detail) {
        super(HttpStatus.CONTENT_TOO_LARGE, "limit-exceeded", "Limit exceeded", detail, null);
    }
}
