package dev.llmplatform.nativekernels;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The NVML meter is absent, not failing, where no counter can be read; where one can, it reads joules. */
class NvmlEnergyMeterTest {

    @Test
    void shouldBeAbsentWithoutAGpuAndReadAPlausibleCounterWithOne() {
        Optional<NvmlEnergyMeter> m = NvmlEnergyMeter.forCudaDevice(0);
        if (!Cuda.available()) {
            assertFalse(m.isPresent(), "no GPU, yet a meter: " + m);
        } else if (m.isPresent()) {
            double a = m.get().joules(), b = m.get().joules();
            assertTrue(a >= 0 && b >= a, a + " then " + b);
        }
    }
}
