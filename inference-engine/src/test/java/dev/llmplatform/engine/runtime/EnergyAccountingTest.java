package dev.llmplatform.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.llmplatform.engine.arch.Architectures;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.testing.SharedFixtures;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The runtime's energy accounting: every step's energy charged to its sequences by tokens, nothing lost. */
class EnergyAccountingTest {

    /** A counter that advances by one joule between consecutive reads: every forward pass costs exactly 1 J. */
    private static final class OneJoulePerStep implements EnergyMeter {
        private final AtomicLong reads = new AtomicLong();

        @Override
        public double joules() {
            // The runtime reads 2k before step k and 2k+1 after it: k, then k + 1.
            return (reads.getAndIncrement() + 1) / 2;
        }

        @Override
        public String describe() {
            return "one joule per step";
        }
    }

    private static List<RequestHandle> submitMixed(EngineRuntime rt, int vocab, int n) {
        SplittableRandom r = new SplittableRandom(11);
        List<RequestHandle> handles = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] prompt = r.ints(1 + r.nextInt(60), 0, vocab).toArray();
            handles.add(rt.submit(GenerationRequest.of(prompt, SamplingParams.GREEDY,
                    StopConditions.maxTokens(1 + r.nextInt(30), Set.of()))));
        }
        return handles;
    }

    @Test
    void stepEnergyIsSplitAmongItsSequencesByTokensAndSumsToTheTotal() throws Exception {
        try (WorkerPool pool = new WorkerPool(2); DecoderModel model = Architectures.load(SharedFixtures.hfTiny("llama"), pool);
             EngineRuntime rt = new EngineRuntime(model, null,
                     new RuntimeConfig(6, 100, 40, 16, 64, true, RuntimeConfig.Policy.IN_FLIGHT), new OneJoulePerStep())) {
            List<RequestHandle> handles = submitMixed(rt, model.vocabSize(), 20);
            long generated = 0;
            double charged = 0;
            for (RequestHandle h : handles) {
                generated += h.completion().get(60, TimeUnit.SECONDS).completionTokens();
                assertTrue(h.energyJoules() > 0, "request " + h.id() + " took part in steps, so it was charged");
                charged += h.energyJoules();
            }
            EnergyStats e = rt.energy().orElseThrow();
            RuntimeStats s = rt.stats();
            assertEquals(s.steps(), e.joules(), 1e-9, "1 J per forward pass");
            assertEquals(e.joules(), charged, 1e-9, "every joule charged to some request");
            assertEquals(generated, e.generatedTokens());
            assertTrue(e.tokens() >= s.promptTokens() + generated - 20, "prompt and decode positions counted: " + e);
            assertEquals(generated / e.joules(), e.generatedTokensPerJoule(), 1e-12);
            assertTrue(e.seconds() > 0);
            assertEquals(2.0 * e.seconds() / 3600 / generated * 1e6, e.costPerMillionTokens(2.0), 1e-9);
        }
    }

    @Test
    void withoutAMeterThereIsNoEnergyAndUnreadableCountersChargeNothing() throws Exception {
        try (WorkerPool pool = new WorkerPool(2); DecoderModel model = Architectures.load(SharedFixtures.hfTiny("llama"), pool)) {
            RuntimeConfig cfg = new RuntimeConfig(6, 100, 40, 16, 64, true, RuntimeConfig.Policy.IN_FLIGHT);
            try (EngineRuntime rt = new EngineRuntime(model, null, cfg)) {
                RequestHandle h = submitMixed(rt, model.vocabSize(), 1).getFirst();
                h.completion().get(60, TimeUnit.SECONDS);
                assertFalse(rt.energy().isPresent(), "the CPU model meters nothing");
                assertTrue(Double.isNaN(h.energyJoules()));
            }
            EnergyMeter unreadable = new EnergyMeter() {
                @Override
                public double joules() {
                    return Double.NaN;
                }

                @Override
                public String describe() {
                    return "unreadable";
                }
            };
            try (EngineRuntime rt = new EngineRuntime(model, null, cfg, unreadable)) {
                RequestHandle h = submitMixed(rt, model.vocabSize(), 1).getFirst();
                h.completion().get(60, TimeUnit.SECONDS);
                EnergyStats e = rt.energy().orElseThrow();
                assertEquals(0, e.joules());
                assertEquals(0, e.generatedTokens());
                assertTrue(Double.isNaN(e.generatedTokensPerJoule()));
                assertTrue(Double.isNaN(h.energyJoules()));
            }
        }
    }
}
