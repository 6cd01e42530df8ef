package dev.llmplatform.inference.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llmplatform.engine.Engine;
import dev.llmplatform.engine.runtime.EnergyMeter;
import dev.llmplatform.engine.runtime.EnergyStats;
import dev.llmplatform.engine.runtime.EngineRuntime;
import dev.llmplatform.engine.runtime.GenerationRequest;
import dev.llmplatform.engine.runtime.RuntimeConfig;
import dev.llmplatform.engine.runtime.SamplingParams;
import dev.llmplatform.engine.runtime.StopConditions;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The energy series follow the runtime's accounting where it meters, and do not exist where it does not. */
class EnergyMetricsTest {
    private static Engine engine;

    @BeforeAll
    static void load() {
        engine = Engine.load(Path.of("../models/kjv-demo"), 2);
    }

    @AfterAll
    static void close() throws Exception {
        engine.close();
    }

    private static RuntimeConfig config() {
        return new RuntimeConfig(4, 16, 64, 16, 64, true, RuntimeConfig.Policy.IN_FLIGHT);
    }

    private static void generate(EngineRuntime rt) throws Exception {
        rt.submit(GenerationRequest.of(new int[] {1, 2, 3, 4}, SamplingParams.GREEDY, StopConditions.maxTokens(8, Set.of())))
                .completion().get(60, TimeUnit.SECONDS);
    }

    @Test
    void meteredRuntimeExportsItsEnergyTokensPerJouleAndCost() throws Exception {
        AtomicLong reads = new AtomicLong();
        EnergyMeter twoJoulesPerStep = new EnergyMeter() {
            @Override
            public double joules() {
                return 2.0 * ((reads.getAndIncrement() + 1) / 2); // reads 2k, 2k+1 around step k: 2k, then 2k + 2
            }

            @Override
            public String describe() {
                return "two joules per step";
            }
        };
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (EngineRuntime rt = new EngineRuntime(engine.model(), null, config(), twoJoulesPerStep)) {
            assertThat(EnergyMetrics.bind(registry, "kjv-demo", rt, 3.0)).isTrue();
            generate(rt);
            EnergyStats e = rt.energy().orElseThrow();
            assertThat(e.joules()).isEqualTo(2.0 * rt.stats().steps());
            assertThat(registry.get("llm.gpu_energy_joules").tag("model", "kjv-demo").functionCounter().count()).isEqualTo(e.joules());
            assertThat(registry.get("llm.gpu_generation_tokens_per_joule").gauge().value()).isEqualTo(8 / e.joules());
            assertThat(registry.get("llm.gpu_power_watts").gauge().value()).isEqualTo(e.watts());
            assertThat(registry.get("llm.gpu_cost_per_million_tokens").gauge().value()).isEqualTo(e.costPerMillionTokens(3.0));
        }
    }

    @Test
    void unmeteredRuntimeHasNoEnergySeriesAtAll() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (EngineRuntime rt = new EngineRuntime(engine.model(), null, config())) {
            assertThat(EnergyMetrics.bind(registry, "kjv-demo", rt, 3.0)).isFalse();
            generate(rt);
            assertThat(registry.find("llm.gpu_energy_joules").meters()).isEmpty();
            assertThat(registry.getMeters()).noneMatch(m -> m.getId().getName().startsWith("llm.gpu_"));
        }
    }
}
