package dev.llmplatform.registry.model;

import dev.llmplatform.registry.config.RegistryProperties;
import dev.llmplatform.registry.problem.InvalidRequest;
import java.util.regex.Pattern;
import org.springframework.stereotype.Component;

/**
 * The rule for model names: lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, at most
 * {@code llm.registry.limits.max-name-length} characters. Names become URL segments and blob key prefixes, so
 * nothing that could mean "another directory" ('/', '..') gets in.
 */
@Component
public class ModelNames {
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]*");

    private final int maxLength;

    public ModelNames(RegistryProperties properties) {
        this.maxLength = properties.limits().maxNameLength();
    }

    public String check(String name) {
        if (name == null || name.isEmpty()) {
            throw new InvalidRequest("invalid-name", "model name is empty");
        }
        if (name.length() > maxLength) {
            throw new InvalidRequest("invalid-name", "model name is " + name.length() + " characters long, the limit is " + maxLength);
        }
        if (!NAME.matcher(name).matches() || name.contains("..")) {
            throw new InvalidRequest("invalid-name", "model name '" + name
                    + "' must be lower-case letters, digits, '.', '_' or '-', start with a letter or digit, and not contain '..'");
        }
        return name;
    }
}
