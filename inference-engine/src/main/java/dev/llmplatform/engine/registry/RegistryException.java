package dev.llmplatform.engine.registry;

import java.io.IOException;

/**
 * The registry refused a request or could not be reached. {@code status} is the HTTP status (0 when there was no
 * answer) and {@code problemType} the problem's {@code type} (e.g. {@code urn:llm-registry:revision-conflict}), so a
 * caller can tell a lost race (409) from a missing version (404). An {@link IOException}: it is about the world
 * outside the process, and the command line prints it as one line.
 */
public class RegistryException extends IOException {
    private final int status;
    private final String problemType;

    public RegistryException(int status, String problemType, String message) {
        super(message);
        this.status = status;
        this.problemType = problemType;
    }

    public RegistryException(String message, Throwable cause) {
        super(message, cause);
        this.status = 0;
        this.problemType = null;
    }

    public int status() {
        return status;
    }

    public String problemType() {
        return problemType;
    }
}
