package dev.llmplatform.registry.artifact;

import dev.llmplatform.engine.manifest.EngineManifest;
import dev.llmplatform.engine.manifest.ManifestFile;
import dev.llmplatform.registry.config.RegistryProperties;
import dev.llmplatform.registry.problem.InvalidRequest;
import dev.llmplatform.registry.problem.LimitExceeded;
import org.springframework.stereotype.Component;

/**
 * What the registry accepts beyond a well-formed manifest: {@code llm.registry.limits} (file count, file size,
 * version size) and field lengths that fit the database columns. Checked when an upload opens, before any bytes.
 */
@Component
class ManifestPolicy {
    private final RegistryProperties.Limits limits;

    ManifestPolicy(RegistryProperties properties) {
        this.limits = properties.limits();
    }

    void check(EngineManifest m) {
        if (m.files().size() > limits.maxFilesPerVersion()) {
            throw new LimitExceeded("the manifest lists " + m.files().size() + " files, the limit is " + limits.maxFilesPerVersion()
                    + " (llm.registry.limits.max-files-per-version)");
        }
        for (ManifestFile f : m.files()) {
            if (f.size() > limits.maxFileSize().toBytes()) {
                throw new LimitExceeded("file '" + f.path() + "' is " + f.size() + " bytes, the limit is "
                        + limits.maxFileSize().toBytes() + " (llm.registry.limits.max-file-size)");
            }
        }
        if (m.totalSize() > limits.maxVersionSize().toBytes()) {
            throw new LimitExceeded("the version's files add up to " + m.totalSize() + " bytes, the limit is "
                    + limits.maxVersionSize().toBytes() + " (llm.registry.limits.max-version-size)");
        }
        length("dtype", m.dtype(), 32);
        length("target_hardware", m.targetHardware(), 64);
        length("quantization.method", m.quantization().method(), 64);
    }

    private static void length(String field, String value, int max) {
        if (value.length() > max) {
            throw new InvalidRequest("invalid-manifest", "engine manifest: " + field + " is longer than " + max + " characters");
        }
    }
}
