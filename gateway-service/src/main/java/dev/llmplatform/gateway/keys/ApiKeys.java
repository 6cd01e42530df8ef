package dev.llmplatform.gateway.keys;

import dev.llmplatform.gateway.config.GatewayProperties;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.springframework.stereotype.Component;

/**
 * The accepted API keys, held only as SHA-256 digests: a key presented by a client is hashed and looked up, so the
 * configuration (and a heap dump) never contains a usable key.
 */
@Component
public class ApiKeys {
    private final Map<String, Caller> byDigest = new HashMap<>();
    private final boolean required;

    public ApiKeys(GatewayProperties props) {
        this.required = props.auth().required();
        for (GatewayProperties.ApiKey k : props.auth().keys()) {
            Caller previous = byDigest.put(k.sha256().toLowerCase(Locale.ROOT),
                    new Caller(k.name(), k.requestsPerMinute(), k.tokensPerMinute()));
            if (previous != null) {
                throw new IllegalArgumentException("llm.gateway.auth.keys: '" + k.name() + "' and '" + previous.name()
                        + "' have the same sha256");
            }
        }
    }

    public boolean required() {
        return required;
    }

    /** The caller a presented key belongs to, if any. */
    public Optional<Caller> find(String presentedKey) {
        return Optional.ofNullable(byDigest.get(sha256(presentedKey)));
    }

    public static String sha256(String key) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
