package dev.llmplatform.registry.problem;

import org.springframework.http.HttpStatus;

/** Uploaded bytes that are not what the manifest declared: wrong size or wrong sha256. Nothing was kept. */
public final class ContentMismatch extends RegistryProblem {
    public ContentMismatch(String slug, String detail) {
        super(HttpStatus.UNPROCESSABLE_CONTENT, slug, "Content does not match the manifest", detail, null);
    }
}
