package dev.llmplatform.engine.manifest;

/** A manifest that is malformed or disagrees with the files it describes; the message names the field or file. */
public class ManifestException extends IllegalArgumentException {
    public ManifestException(String message) {
        super(message);
    }

    public ManifestException(String message, Throwable cause) {
        super(message, cause);
    }
}
