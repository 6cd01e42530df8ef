package dev.llmplatform.admin.config;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * The dashboard's own settings, {@code llm.admin.*}. Which services it watches is not here: that is Spring Cloud's
 * discovery configuration ({@code spring.cloud.discovery.client.simple.instances.*}), so the same list can come from
 * Kubernetes instead. Checked when bound: a bad value stops the start with a message naming the property.
 *
 * @param registry    the model registry whose rollouts the Rollouts view shows
 * @param security    optional login for the whole dashboard
 * @param llmMetrics  what the LLM metrics view picks out of each instance's Prometheus scrape
 */
@ConfigurationProperties("llm.admin")
public record AdminProperties(@DefaultValue Registry registry, @DefaultValue Security security,
                              @DefaultValue LlmMetrics llmMetrics) {

    /**
     * @param url     the registry's base URL (its API is under {@code /v1/registry})
     * @param token   a bearer token for the registry, needed only when it refuses anonymous reads
     * @param timeout how long one call to the registry may take, connect and answer together
     */
    public record Registry(@DefaultValue("http://localhost:8080") URI url, String token,
                           @DefaultValue("5s") Duration timeout) {
        public Registry {
            String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
            if (!(scheme.equals("http") || scheme.equals("https")) || url.getHost() == null) {
                throw new IllegalArgumentException("llm.admin.registry.url must be an absolute http(s) URL, got " + url);
            }
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("llm.admin.registry.timeout must be positive, got " + timeout);
            }
        }
    }

    /**
     * @param enabled  when true every page and API of the dashboard needs this user (form login or HTTP basic);
     *                 the dashboard's own health probes stay open
     * @param username the one user's name
     * @param password its password, required when enabled ({noop} is added when it names no encoding)
     */
    public record Security(@DefaultValue("false") boolean enabled, @DefaultValue("admin") String username,
                           String password) {
        public Security {
            if (enabled && (password == null || password.isBlank())) {
                throw new IllegalArgumentException(
                        "llm.admin.security.enabled is true but llm.admin.security.password is not set");
            }
            if (enabled && (username == null || username.isBlank())) {
                throw new IllegalArgumentException("llm.admin.security.username must not be blank");
            }
        }
    }

    /**
     * @param prefixes metric name prefixes (as Prometheus names them) shown in the LLM metrics view
     * @param timeout  how long one instance's scrape may take before the view reports it as failed
     */
    public record LlmMetrics(@DefaultValue("llm_") List<String> prefixes, @DefaultValue("5s") Duration timeout) {
        public LlmMetrics {
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("llm.admin.llm-metrics.timeout must be positive, got " + timeout);
            }
            if (prefixes.isEmpty() || prefixes.stream().anyMatch(p -> p == null || p.isBlank())) {
                throw new IllegalArgumentException("llm.admin.llm-metrics.prefixes must list non-blank prefixes, got " + prefixes);
            }
            prefixes = List.copyOf(prefixes);
        }
    }
}
