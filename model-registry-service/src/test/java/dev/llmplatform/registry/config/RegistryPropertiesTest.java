package dev.llmplatform.registry.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.validation.autoconfigure.ValidationAutoConfiguration;
import org.springframework.context.annotation.Configuration;
import org.springframework.util.unit.DataSize;

/** {@code llm.registry.*}: the defaults a bare start gets, and the settings refused at start-up with a message naming them. */
class RegistryPropertiesTest {
    @Configuration(proxyBeanMethods = false)
    @EnableConfigurationProperties(RegistryProperties.class)
    static class Config {
    }

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(ValidationAutoConfiguration.class)).withUserConfiguration(Config.class);

    @Test
    void shouldDefaultToFilesystemBlobsOpenReadsAndGenerousLimits() {
        runner.run(context -> {
            RegistryProperties p = context.getBean(RegistryProperties.class);
            assertThat(p.storage().type()).isEqualTo(RegistryProperties.StorageType.FILESYSTEM);
            assertThat(p.storage().filesystem().root()).isEqualTo(java.nio.file.Path.of("data/blobs"));
            assertThat(p.storage().s3().partSize()).isEqualTo(DataSize.ofMegabytes(64));
            assertThat(p.security().anonymousReads()).isTrue();
            assertThat(p.security().adminTokens()).isEmpty();
            assertThat(p.limits().maxFileSize()).isEqualTo(DataSize.ofGigabytes(100));
            assertThat(p.limits().maxNameLength()).isEqualTo(128);
            assertThat(p.uploads().ttl()).isEqualTo(Duration.ofHours(24));
            assertThat(p.events().heartbeatInterval()).isEqualTo(Duration.ofSeconds(15));
        });
    }

    @Test
    void shouldBindNamedTokens() {
        runner.withPropertyValues("llm.registry.security.admin-tokens.ci=abc", "llm.registry.security.read-tokens.gateway=def")
                .run(context -> {
                    RegistryProperties p = context.getBean(RegistryProperties.class);
                    assertThat(p.security().adminTokens()).containsEntry("ci", "abc");
                    assertThat(p.security().readTokens()).containsEntry("gateway", "def");
                });
    }

    @Test
    void shouldRefuseToStartWithS3StorageButNoBucket() {
        runner.withPropertyValues("llm.registry.storage.type=s3").run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure()).rootCause().hasMessageContaining("llm.registry.storage.s3.bucket must be set");
        });
    }

    @Test
    void shouldRefusePartsSmallerThanS3AllowsAndNamesLongerThanTheSchema() {
        runner.withPropertyValues("llm.registry.storage.s3.part-size=1MB").run(context ->
                assertThat(context.getStartupFailure()).rootCause().hasMessageContaining("at least 5MB"));
        runner.withPropertyValues("llm.registry.limits.max-name-length=500").run(context ->
                assertThat(context.getStartupFailure()).rootCause().hasMessageContaining("maxNameLength"));
    }
}
