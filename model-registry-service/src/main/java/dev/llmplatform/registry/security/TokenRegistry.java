package dev.llmplatform.registry.security;

import dev.llmplatform.engine.manifest.FileDigests;
import dev.llmplatform.registry.config.RegistryProperties;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.springframework.stereotype.Component;

/**
 * The configured tokens, held as sha256 digests and compared in constant time (every token is compared, whatever
 * matches), so neither memory dumps of this object nor response timing give a token away.
 */
@Component
public class TokenRegistry {
    private record Entry(String name, byte[] digest, boolean admin) {
    }

    private final List<Entry> entries = new ArrayList<>();

    public TokenRegistry(RegistryProperties properties) {
        add(properties.security().adminTokens(), true);
        add(properties.security().readTokens(), false);
    }

    private void add(Map<String, String> tokens, boolean admin) {
        tokens.forEach((name, token) -> {
            if (token != null && !token.isBlank()) {
                entries.add(new Entry(name, digest(token), admin));
            }
        });
    }

    public Optional<Caller> authenticate(String token) {
        byte[] presented = digest(token);
        Entry match = null;
        for (Entry e : entries) {
            if (MessageDigest.isEqual(e.digest(), presented) && match == null) {
                match = e;
            }
        }
        return match == null ? Optional.empty() : Optional.of(new Caller(match.name(), match.admin()));
    }

    public boolean hasAdminTokens() {
        return entries.stream().anyMatch(Entry::admin);
    }

    private static byte[] digest(String token) {
        return FileDigests.newSha256().digest(token.getBytes(StandardCharsets.UTF_8));
    }
}
