package dev.llmplatform.admin.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.BindException;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

/** Binds {@code llm.admin.*} the way Boot does at start-up (relaxed names, defaults, the records' checks). */
class AdminPropertiesTest {

    private static AdminProperties bind(Map<String, String> properties) {
        return new Binder(new MapConfigurationPropertySource(properties)).bindOrCreate("llm.admin", AdminProperties.class);
    }

    @Test
    void defaultsSuitLocalDevelopment() {
        AdminProperties p = bind(Map.of());
        assertThat(p.registry().url()).isEqualTo(URI.create("http://localhost:8080"));
        assertThat(p.registry().token()).isNull();
        assertThat(p.registry().timeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(p.security().enabled()).isFalse();
        assertThat(p.llmMetrics().prefixes()).containsExactly("llm_");
    }

    @Test
    void bindsEverySetting() {
        AdminProperties p = bind(Map.of(
                "llm.admin.registry.url", "https://registry.internal:8443",
                "llm.admin.registry.token", "t0ken",
                "llm.admin.registry.timeout", "2s",
                "llm.admin.security.enabled", "true",
                "llm.admin.security.username", "ops",
                "llm.admin.security.password", "s3cret",
                "llm.admin.llm-metrics.prefixes", "llm_,gateway_",
                "llm.admin.llm-metrics.timeout", "750ms"));
        assertThat(p.registry().url()).isEqualTo(URI.create("https://registry.internal:8443"));
        assertThat(p.registry().token()).isEqualTo("t0ken");
        assertThat(p.registry().timeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(p.security()).isEqualTo(new AdminProperties.Security(true, "ops", "s3cret"));
        assertThat(p.llmMetrics().prefixes()).isEqualTo(List.of("llm_", "gateway_"));
        assertThat(p.llmMetrics().timeout()).isEqualTo(Duration.ofMillis(750));
    }

    @Test
    void securityOnWithoutAPasswordIsRefused() {
        assertThatThrownBy(() -> bind(Map.of("llm.admin.security.enabled", "true")))
                .isInstanceOf(BindException.class)
                .rootCause().hasMessageContaining("llm.admin.security.password is not set");
    }

    @Test
    void aRegistryUrlThatIsNotHttpIsRefused() {
        assertThatThrownBy(() -> bind(Map.of("llm.admin.registry.url", "registry:8080")))
                .rootCause().hasMessageContaining("llm.admin.registry.url must be an absolute http(s) URL");
        assertThatThrownBy(() -> bind(Map.of("llm.admin.registry.timeout", "0s")))
                .rootCause().hasMessageContaining("llm.admin.registry.timeout must be positive");
        assertThatThrownBy(() -> bind(Map.of("llm.admin.llm-metrics.prefixes", " ")))
                .rootCause().hasMessageContaining("llm.admin.llm-metrics.prefixes must list non-blank prefixes");
    }
}
