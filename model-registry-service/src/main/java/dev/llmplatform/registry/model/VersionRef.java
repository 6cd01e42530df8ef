package dev.llmplatform.registry.model;

import dev.llmplatform.registry.problem.InvalidRequest;

/**
 * How a client names a version: a number, or {@code stable} / {@code canary} (as the rollout says now), or
 * {@code latest} (the highest number).
 */
public sealed interface VersionRef {
    record Number(int version) implements VersionRef {
    }

    enum Alias implements VersionRef { STABLE, CANARY, LATEST }

    static VersionRef parse(String s) {
        switch (s) {
            case "stable":
                return Alias.STABLE;
            case "canary":
                return Alias.CANARY;
            case "latest":
                return Alias.LATEST;
            default:
                try {
                    int v = Integer.parseInt(s);
                    if (v >= 1) {
                        return new Number(v);
                    }
                } catch (NumberFormatException e) {
                    // fall through
                }
                throw new InvalidRequest("invalid-version", "'" + s + "' is not a version: expected a number >= 1, stable, canary or latest");
        }
    }
}
