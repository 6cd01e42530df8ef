package dev.llmplatform.nativekernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class DeviceKvBudgetTest {
    private static final long GB = 1_000_000_000L;

    @Test
    void fillsTheDeviceUpToTheUtilizationLeavingTheRestAlone() {
        // 80 GB card, 14 GB used by weights and buffers: at 0.9, the cache may take 72 - 14 = 58 GB.
        assertEquals(58 * GB, DeviceKvBudget.budget(66 * GB, 80 * GB, 0.9));
        assertEquals(66 * GB, DeviceKvBudget.budget(66 * GB, 80 * GB, 1.0));
    }

    @Test
    void isZeroWhenTheDeviceIsAlreadyPastTheUtilization() {
        assertEquals(0, DeviceKvBudget.budget(4 * GB, 80 * GB, 0.9));
    }

    @Test
    void refusesAnUtilizationOutsideZeroToOne() {
        assertThrows(IllegalArgumentException.class, () -> DeviceKvBudget.budget(GB, 2 * GB, 0));
        assertThrows(IllegalArgumentException.class, () -> DeviceKvBudget.budget(GB, 2 * GB, 1.5));
        assertThrows(IllegalArgumentException.class, () -> DeviceKvBudget.budget(GB, 2 * GB, Double.NaN));
    }
}
