package dev.llmplatform.nativekernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** Needs no GPU: the build compiled kernels.cu with nvcc into the fatbin resource the runner loads. */
class FatbinResourceTest {

    @Test
    void shouldShipTheNvccFatbinAsAResource() {
        assumeFalse(Boolean.getBoolean("nvcc.skip"), "built with -Dnvcc.skip=true: no fatbin on purpose");
        byte[] fatbin = KernelModule.fatbin();
        assertTrue(fatbin.length > 10_000, "fatbin of " + fatbin.length + " bytes");
        int magic = ByteBuffer.wrap(fatbin).order(ByteOrder.LITTLE_ENDIAN).getInt(0);
        assertEquals(0xBA55ED50, magic, "fatbin magic");
    }

    @Test
    void shouldAnswerFalseRatherThanThrowWhenNoGpuIsVisible() {
        // On a GPU machine this is true; elsewhere false with a reason. Either way no exception.
        boolean available = Cuda.available();
        assertTrue(available || !Cuda.unavailableReason().isEmpty());
    }
}
