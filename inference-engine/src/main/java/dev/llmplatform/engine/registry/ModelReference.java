package dev.llmplatform.engine.registry;

import java.util.regex.Pattern;

/**
 * A registry reference as users write it: {@code model@3} (a version), {@code model@stable}, {@code model@canary}
 * or {@code model@latest}; a bare {@code model} means {@code model@stable}. The ref is resolved to a number once,
 * before any file is fetched, so a promotion in the middle of a download cannot mix two versions.
 */
public record ModelReference(String model, String ref) {
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,127}");
    private static final Pattern REF = Pattern.compile("[1-9][0-9]{0,9}|stable|canary|latest");

    public ModelReference {
        if (model == null || !NAME.matcher(model).matches()) {
            throw new IllegalArgumentException("model name '" + model + "' must match " + NAME.pattern());
        }
        if (ref == null || !REF.matcher(ref).matches()) {
            throw new IllegalArgumentException("'" + ref + "' is not a version reference (a version number, stable, canary or latest)");
        }
    }

    public static ModelReference parse(String s) {
        int at = s.lastIndexOf('@');
        return at < 0 ? new ModelReference(s, "stable") : new ModelReference(s.substring(0, at), s.substring(at + 1));
    }

    @Override
    public String toString() {
        return model + "@" + ref;
    }
}
