package dev.llmplatform.nativekernels;

import dev.llmplatform.engine.arch.Architectures;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.runtime.EnergyStats;
import dev.llmplatform.engine.runtime.EngineRuntime;
import dev.llmplatform.engine.runtime.FinishReason;
import dev.llmplatform.engine.runtime.GenerationRequest;
import dev.llmplatform.engine.runtime.RequestHandle;
import dev.llmplatform.engine.runtime.RuntimeConfig;
import dev.llmplatform.engine.runtime.RuntimeStats;
import dev.llmplatform.engine.runtime.SamplingParams;
import dev.llmplatform.engine.runtime.StopConditions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The GPU runner under the engine's runtime over many requests: no device memory leak across thousands of requests
 * with cancellations, and the runtime's NVML energy accounting.
 */
final class RuntimeChecks {
    private RuntimeChecks() {
    }

    private static RuntimeConfig config(int requests) {
        return new RuntimeConfig(64, requests + 100, 512, 16, 2000, true, RuntimeConfig.Policy.IN_FLIGHT);
    }

    /**
     * Device memory before and after {@code requests} requests (prompts of 1-64 tokens, 1-24 new tokens, greedy and
     * sampled, every 5th cancelled, some at once and some later), once a warm-up has taken the runtime through every
     * batch size up to 64 (so graphs and buffers exist): free memory must be unchanged to the byte and every KV
     * block back.
     */
    static int leak(Path dir, int requests) throws Exception {
        Random rng = new Random(3);
        try (WorkerPool pool = new WorkerPool(4); DecoderModel cpu = Architectures.load(dir, pool);
             GpuLlamaModel gpu = new GpuLlamaModel(cpu, GpuLlamaModel.Precision.AS_STORED);
             EngineRuntime rt = new EngineRuntime(gpu, null, config(requests))) {
            int vocab = gpu.vocabSize();
            // Warm-up: 64 requests of 64-token prompts with 2, 4, ..., 128 new tokens: the batch shrinks from 64 to 1,
            // two steps at each size, so every bucket is run once and captured once; prefill steps fill 512 tokens.
            List<RequestHandle> warm = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                warm.add(rt.submit(GenerationRequest.of(rng.ints(64, 0, vocab).toArray(), SamplingParams.GREEDY,
                        StopConditions.maxTokens(2 * (i + 1), Set.of()))));
            }
            for (RequestHandle h : warm) {
                h.completion().get(300, TimeUnit.SECONDS);
            }
            long free0 = Cuda.memInfo()[0];
            int captures0 = gpu.graphCaptures();
            long t0 = System.nanoTime();
            List<RequestHandle> handles = new ArrayList<>(requests);
            for (int i = 0; i < requests; i++) {
                SamplingParams sampling = i % 3 == 0 ? new SamplingParams(0.8, 40, 0.95, 0, 1, 0, 0, (long) i) : SamplingParams.GREEDY;
                RequestHandle h = rt.submit(GenerationRequest.of(rng.ints(1 + rng.nextInt(64), 0, vocab).toArray(), sampling,
                        StopConditions.maxTokens(1 + rng.nextInt(24), Set.of())));
                handles.add(h);
                if (i % 5 == 0) {
                    (i % 10 == 0 ? h : handles.get(rng.nextInt(handles.size()))).cancel();
                }
                if (i % 200 == 199) {
                    Thread.sleep(5); // let the batch fill and drain a little, so cancellations also hit running requests
                }
            }
            long cancelled = 0;
            for (RequestHandle h : handles) {
                cancelled += h.completion().get(600, TimeUnit.SECONDS).reason() == FinishReason.CANCELLED ? 1 : 0;
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            gpu.synchronize();
            long free1 = Cuda.memInfo()[0];
            RuntimeStats st = rt.stats();
            int newCaptures = gpu.graphCaptures() - captures0;
            boolean ok = free1 == free0 && st.kvBlocksUsed() == 0 && st.finished() == requests + 64 && st.running() == 0;
            System.out.printf("%s device memory across %d requests (%d cancelled) in %.1f s: free before %d B, after %d B (difference %d B); KV blocks used %d; finished %d; %d graphs captured meanwhile; %d steps, %d preemptions%n",
                    ok ? "PASS" : "FAIL", requests, cancelled, seconds, free0, free1, free0 - free1, st.kvBlocksUsed(),
                    st.finished(), newCaptures, st.steps(), st.preemptions());
            rt.energy().ifPresent(e -> System.out.printf("energy over those steps: %s%n", describe(e)));
            return ok ? 0 : 1;
        }
    }

    /**
     * NVML through {@link NvmlEnergyMeter}: the counter reads on this GPU, what a read costs, and that the runtime picks
     * the runner's meter up by itself and charges every step's joules to requests.
     */
    static int energy(Path dir) throws Exception {
        int failures = 0;
        Optional<NvmlEnergyMeter> meter = NvmlEnergyMeter.forCudaDevice(0);
        if (meter.isEmpty()) {
            System.out.println("FAIL NVML energy counter: none readable on CUDA device 0");
            return 1;
        }
        NvmlEnergyMeter m = meter.get();
        int reads = 50;
        long t0 = System.nanoTime();
        double counter = 0;
        for (int i = 0; i < reads; i++) {
            counter = m.counterJoules();
        }
        double usPerCounterRead = (System.nanoTime() - t0) / 1e3 / reads;
        m.joules(); // starts the sampler
        Thread.sleep(100);
        reads = 100_000;
        t0 = System.nanoTime();
        double estimate = 0;
        for (int i = 0; i < reads; i++) {
            estimate = m.joules();
        }
        double usPerRead = (System.nanoTime() - t0) / 1e3 / reads;
        boolean cheap = usPerRead < 20 && estimate >= counter;
        failures += cheap ? 0 : 1;
        System.out.printf("%s NVML energy counter: %s reads %.1f J, %.0f us per counter read; the sampled estimate %.1f J costs %.2f us per read%n",
                cheap ? "PASS" : "FAIL", m.describe(), counter, usPerCounterRead, estimate, usPerRead);
        try (WorkerPool pool = new WorkerPool(4); DecoderModel cpu = Architectures.load(dir, pool);
             GpuLlamaModel gpu = new GpuLlamaModel(cpu, GpuLlamaModel.Precision.AS_STORED);
             EngineRuntime rt = new EngineRuntime(gpu, null, config(256))) {
            Random rng = new Random(9);
            List<RequestHandle> handles = new ArrayList<>();
            for (int i = 0; i < 256; i++) {
                handles.add(rt.submit(GenerationRequest.of(rng.ints(32, 0, gpu.vocabSize()).toArray(), SamplingParams.GREEDY,
                        StopConditions.maxTokens(64, Set.of()))));
            }
            double charged = 0;
            long generated = 0;
            for (RequestHandle h : handles) {
                generated += h.completion().get(300, TimeUnit.SECONDS).completionTokens();
                charged += h.energyJoules();
            }
            Optional<EnergyStats> e = rt.energy();
            boolean ok = e.isPresent() && e.get().joules() > 0 && e.get().generatedTokens() == generated
                    && Math.abs(charged - e.get().joules()) <= 1e-6 * e.get().joules() && e.get().watts() > 20 && e.get().watts() < 1500;
            failures += ok ? 0 : 1;
            System.out.printf("%s runtime energy accounting (256 requests x 64 tokens on %s): %s; charged to requests %.3f J%n",
                    ok ? "PASS" : "FAIL", dir.getFileName(), e.map(RuntimeChecks::describe).orElse("no meter"), charged);
        }
        return failures;
    }

    static String describe(EnergyStats e) {
        return String.format("%.2f J over %.2f s of forward passes (%.0f W), %d tokens computed, %d generated: %.2f generated tokens/J",
                e.joules(), e.seconds(), e.watts(), e.tokens(), e.generatedTokens(), e.generatedTokensPerJoule());
    }
}
