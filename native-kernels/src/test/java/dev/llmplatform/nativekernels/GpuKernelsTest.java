package dev.llmplatform.nativekernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/** Every kernel against its CPU twin on random inputs; skipped (not failed) where no GPU is visible. */
class GpuKernelsTest {

    @Test
    void shouldMatchTheCpuTwinsOnRandomInputs() {
        assumeTrue(Cuda.available(), () -> "no GPU: " + Cuda.unavailableReason());
        Cuda.init(0);
        assertEquals(0, GpuVerify.runKernelChecks(), "kernel checks failed (see the output)");
    }

    @Test
    void shouldSampleTheTokensOfTheEnginesSamplingRule() throws Exception {
        assumeTrue(Cuda.available(), () -> "no GPU: " + Cuda.unavailableReason());
        Cuda.init(0);
        assertEquals(0, SamplingChecks.run(null), "sampling checks failed (see the output)");
    }
}
