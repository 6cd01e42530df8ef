package dev.llmplatform.nativekernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.llmplatform.engine.runtime.EnergyMeter;
import java.util.List;
import org.junit.jupiter.api.Test;

class SummedEnergyMeterTest {

    /** A counter with a value set by the test (NVML needs a GPU; the sum's rules do not). */
    private static final class Counter implements EnergyMeter {
        double value;
        final String name;

        Counter(String name, double value) {
            this.name = name;
            this.value = value;
        }

        @Override
        public double joules() {
            return value;
        }

        @Override
        public String describe() {
            return name;
        }
    }

    @Test
    void shouldAddTheCountersOfEveryDevice() {
        Counter a = new Counter("GPU 0", 100), b = new Counter("GPU 1", 250.5);
        SummedEnergyMeter sum = new SummedEnergyMeter(List.of(a, b));
        assertEquals(350.5, sum.joules(), 1e-9);
        a.value = 110;
        assertEquals(360.5, sum.joules(), 1e-9);
        assertEquals("GPU 0 + GPU 1", sum.describe());
    }

    @Test
    void shouldReadNothingWhenAnyCounterCannotBeRead() {
        SummedEnergyMeter sum = new SummedEnergyMeter(List.of(new Counter("GPU 0", 5), new Counter("GPU 1", Double.NaN)));
        assertTrue(Double.isNaN(sum.joules()));
    }

    @Test
    void shouldRefuseAnEmptyList() {
        assertThrows(IllegalArgumentException.class, () -> new SummedEnergyMeter(List.of()));
    }
}
