package dev.llmplatform.inference.metrics;

import dev.llmplatform.engine.runtime.EnergyStats;
import dev.llmplatform.engine.runtime.EngineRuntime;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.function.ToDoubleFunction;

/**
 * The GPU energy metrics of a runtime that meters its device ({@link EngineRuntime#energy()}, NVML on the CUDA
 * backend), tagged with the model:
 * <ul>
 *   <li>{@code llm_gpu_energy_joules_total}: the device's energy during forward passes;</li>
 *   <li>{@code llm_gpu_generation_tokens_per_joule}: generated tokens per joule over the same passes;</li>
 *   <li>{@code llm_gpu_power_watts}: mean power during forward passes;</li>
 *   <li>{@code llm_gpu_cost_per_million_tokens}: device-time cost of a million generated tokens at the configured
 *       price per GPU-hour (busy time only), registered only when a price is configured.</li>
 * </ul>
 * A runtime without a meter (the CPU backend, a GPU whose counter cannot be read) gets none of these: the series
 * are absent, not zero.
 */
final class EnergyMetrics {
    private EnergyMetrics() {
    }

    /** Registers the metrics if the runtime meters energy; returns whether it did. */
    static boolean bind(MeterRegistry registry, String model, EngineRuntime runtime, double pricePerGpuHour) {
        if (runtime.energy().isEmpty()) {
            return false;
        }
        String meter = runtime.energy().get().meter();
        FunctionCounter.builder("llm.gpu_energy_joules", runtime, r -> stat(r, EnergyStats::joules))
                .description("Energy of the GPU during forward passes, in joules (" + meter + ").")
                .tag("model", model).register(registry);
        gauge(registry, model, runtime, "llm.gpu_generation_tokens_per_joule",
                "Generated tokens per joule of GPU energy, over all forward passes.", EnergyStats::generatedTokensPerJoule);
        gauge(registry, model, runtime, "llm.gpu_power_watts", "Mean GPU power during forward passes, in watts.",
                EnergyStats::watts);
        if (pricePerGpuHour > 0) {
            gauge(registry, model, runtime, "llm.gpu_cost_per_million_tokens",
                    "Cost of a million generated tokens in GPU busy time at " + pricePerGpuHour + " per GPU-hour.",
                    e -> e.costPerMillionTokens(pricePerGpuHour));
        }
        return true;
    }

    private static void gauge(MeterRegistry registry, String model, EngineRuntime runtime, String name, String description,
                              ToDoubleFunction<EnergyStats> f) {
        Gauge.builder(name, runtime, r -> stat(r, f)).description(description).tag("model", model).register(registry);
    }

    private static double stat(EngineRuntime r, ToDoubleFunction<EnergyStats> f) {
        return r.energy().map(f::applyAsDouble).orElse(Double.NaN);
    }
}
