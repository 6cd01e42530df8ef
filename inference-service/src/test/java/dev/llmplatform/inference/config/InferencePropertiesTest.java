package dev.llmplatform.inference.config;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llmplatform.engine.Engine;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.validation.autoconfigure.ValidationAutoConfiguration;
import org.springframework.context.annotation.Configuration;

class InferencePropertiesTest {
    @Configuration
    @EnableConfigurationProperties(InferenceProperties.class)
    static class Config {
    }

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(ValidationAutoConfiguration.class))
            .withUserConfiguration(Config.class);

    @Test
    void hasServingDefaults() {
        runner.run(ctx -> {
            InferenceProperties p = ctx.getBean(InferenceProperties.class);
            assertThat(p.model()).isEqualTo("models/kjv-demo");
            assertThat(p.maxRunning()).isEqualTo(16);
            assertThat(p.maxWaiting()).isEqualTo(256);
            assertThat(p.kvBlockSize()).isEqualTo(16);
            assertThat(p.kvCacheSize()).isNull();
            assertThat(p.prefixCaching()).isTrue();
            assertThat(p.addBos()).isEqualTo(Engine.BosPolicy.AUTO);
            assertThat(p.logContent()).isFalse();
            assertThat(p.tensorParallelSize()).isEqualTo(1);
            assertThat(p.backend()).isEqualTo(InferenceProperties.Backend.CPU);
            assertThat(p.cudaDevices()).isEmpty();
            assertThat(p.registry().cacheDirOrDefault()).isNotNull();
        });
    }

    @Test
    void refusesInvalidSettingsNamingThem() {
        runner.withPropertyValues("llm.inference.kv-block-size=12").run(ctx ->
                assertThat(ctx).getFailure().rootCause().hasMessageContaining("kv-block-size must be a power of two"));
        runner.withPropertyValues("llm.inference.max-running=0").run(ctx ->
                assertThat(ctx).getFailure().rootCause().hasMessageContaining("maxRunning"));
        runner.withPropertyValues("llm.inference.tensor-parallel-size=0").run(ctx ->
                assertThat(ctx).getFailure().rootCause().hasMessageContaining("tensorParallelSize"));
        runner.withPropertyValues("llm.inference.backend=tpu").run(ctx ->
                assertThat(ctx).getFailure().rootCause().hasMessageContaining("tpu"));
        runner.withPropertyValues("llm.inference.backend=cuda", "llm.inference.tensor-parallel-size=4").run(ctx -> {
            InferenceProperties p = ctx.getBean(InferenceProperties.class);
            assertThat(p.backend()).isEqualTo(InferenceProperties.Backend.CUDA);
            assertThat(p.tensorParallelSize()).isEqualTo(4);
            assertThat(p.rankDevices()).as("0..N-1 when cuda-devices is empty").containsExactly(0, 1, 2, 3);
        });
        assertRefusesCudaDevices("llm.inference.backend=cuda", "llm.inference.tensor-parallel-size=2",
                "llm.inference.cuda-devices=1,1");
        assertRefusesCudaDevices("llm.inference.backend=cuda", "llm.inference.tensor-parallel-size=4",
                "llm.inference.cuda-devices=0,1");
        assertRefusesCudaDevices("llm.inference.backend=cuda", "llm.inference.cuda-devices=1");
        assertRefusesCudaDevices("llm.inference.tensor-parallel-size=2", "llm.inference.cuda-devices=0,1");
        runner.withPropertyValues("llm.inference.backend=cuda", "llm.inference.tensor-parallel-size=2",
                "llm.inference.cuda-devices=0,-1").run(ctx ->
                assertThat(ctx).getFailure().rootCause().hasMessageContaining("cudaDevices"));
        runner.withPropertyValues("llm.inference.backend=cuda", "llm.inference.tensor-parallel-size=2",
                "llm.inference.cuda-devices=2,3").run(ctx ->
                assertThat(ctx.getBean(InferenceProperties.class).rankDevices()).containsExactly(2, 3));
        runner.withPropertyValues("llm.inference.model=registry:kjv-demo@stable").run(ctx ->
                assertThat(ctx).getFailure().rootCause().hasMessageContaining("registry.url"));
        runner.withPropertyValues("llm.inference.model=registry:kjv-demo@stable",
                "llm.inference.registry.url=http://registry:8080", "llm.inference.kv-cache-size=256MB",
                "llm.inference.add-bos=never").run(ctx -> {
            InferenceProperties p = ctx.getBean(InferenceProperties.class);
            assertThat(p.fromRegistry()).isTrue();
            assertThat(p.kvCacheSize().toMegabytes()).isEqualTo(256);
            assertThat(p.addBos()).isEqualTo(Engine.BosPolicy.NEVER);
        });
    }

    /** A cuda-devices list that does not give each rank its own GPU stops startup, saying what the list must be. */
    private void assertRefusesCudaDevices(String... properties) {
        runner.withPropertyValues(properties).run(ctx -> assertThat(ctx).getFailure().rootCause()
                .hasMessageContaining("cuda-devices must be empty, or list tensor-parallel-size distinct CUDA device ids"));
    }
}
