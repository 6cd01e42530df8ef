package dev.llmplatform.nativekernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The FP8 E4M3 twins (the GPU's conversions are checked against them on the GPU; these pin the format itself). */
class E4m3TwinTest {

    @Test
    void decodesTheFormatsLandmarks() {
        assertEquals(0f, CpuTwins.e4m3ToFloat((byte) 0x00));
        assertEquals(1f, CpuTwins.e4m3ToFloat((byte) 0x38));     // exponent 7 (bias 7), mantissa 0
        assertEquals(448f, CpuTwins.e4m3ToFloat((byte) 0x7e));   // the largest finite value
        assertEquals(-448f, CpuTwins.e4m3ToFloat((byte) 0xfe));
        assertEquals(0x1p-9f, CpuTwins.e4m3ToFloat((byte) 0x01)); // the smallest subnormal
        assertEquals(0x1p-6f, CpuTwins.e4m3ToFloat((byte) 0x08)); // the smallest normal
        assertTrue(Float.isNaN(CpuTwins.e4m3ToFloat((byte) 0x7f)));
    }

    @Test
    void roundingLandsOnRepresentableValuesNearestFirstTiesToEven() {
        // Every representable value rounds to itself...
        for (int b = 0; b < 256; b++) {
            float v = CpuTwins.e4m3ToFloat((byte) b);
            if (!Float.isNaN(v)) {
                assertEquals(v, CpuTwins.roundE4m3(v), "value of byte " + b);
            }
        }
        // ...and anything else to the nearest one (ties to the even mantissa), saturating at 448.
        assertEquals(1f, CpuTwins.roundE4m3(1.0625f));      // halfway between 1 and 1.125: even is 1
        assertEquals(1.25f, CpuTwins.roundE4m3(1.1875f));   // halfway between 1.125 and 1.25: even is 1.25
        assertEquals(1.125f, CpuTwins.roundE4m3(1.1f));
        assertEquals(448f, CpuTwins.roundE4m3(1e6f));
        assertEquals(-448f, CpuTwins.roundE4m3(-500f));
        assertEquals(0x1p-9f, CpuTwins.roundE4m3(0x1.2p-9f)); // subnormal spacing 2^-9
        assertEquals(0f, CpuTwins.roundE4m3(0x1p-11f));
    }
}
