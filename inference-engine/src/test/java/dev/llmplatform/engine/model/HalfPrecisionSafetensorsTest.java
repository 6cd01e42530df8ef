package dev.llmplatform.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The test helper's bf16/f16 rounding (what the dtype tests compare against) and the loader's reading of those
 * files: edge values written with {@link SafetensorsWriter} come back from {@link SafetensorsFile} as the rounded
 * floats, bit for bit.
 */
class HalfPrecisionSafetensorsTest {
    private static final float[] VALUES = {
        0f, -0f, 1f, -2.5f, 1.00390625f, 1.01171875f, 65504f, 70000f, 6.1035156e-5f, 5.9604645e-8f, 3e-5f, -1e-6f,
        2.9e-8f, 1e-40f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, 3.3895314e38f
    };

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals(0x3F80, TestCheckpoints.bf16Bits(1.00390625f) & 0xFFFF, "1 + 2^-8 ties down to the even 1.0");
        assertEquals(0x3F82, TestCheckpoints.bf16Bits(1.01171875f) & 0xFFFF, "1 + 3*2^-8 ties up to the even 1 + 2^-6");
        assertEquals(0x3F81, TestCheckpoints.bf16Bits(1.0078126f) & 0xFFFF, "just above 1 + 2^-7 rounds to it");
        assertEquals(0x7F80, TestCheckpoints.bf16Bits(3.4e38f) & 0xFFFF, "past the largest bf16 rounds to infinity");
        assertEquals(0x0002, TestCheckpoints.bf16Bits(Float.intBitsToFloat(0x00018000)) & 0xFFFF, "f32 subnormals tie to even");
    }

    @Test
    void f16KeepsSubnormalsAndOverflowsToInfinity() {
        assertEquals(0x0001, Float.floatToFloat16(5.9604645e-8f), "the smallest f16 subnormal");
        assertEquals(0x01F7, Float.floatToFloat16(3e-5f), "3e-5 is a subnormal in f16");
        assertEquals(0x7C00, Float.floatToFloat16(70000f), "past 65504 is infinity");
        assertEquals(3e-5f, TestCheckpoints.round(3e-5f, DType.F16), 6e-8f);
    }

    @Test
    void writtenHalfValuesReadBackRounded(@TempDir Path tmp) throws Exception {
        for (DType dtype : new DType[] {DType.BF16, DType.F16}) {
            Path file = tmp.resolve(dtype + ".safetensors");
            // An odd-sized tensor first, so the second starts off any 4-byte boundary.
            Map<String, TestCheckpoints.HostTensor> tensors = new LinkedHashMap<>();
            tensors.put("a", new TestCheckpoints.HostTensor(new long[] {3}, new float[] {1f, 2f, 3f}));
            tensors.put("b", new TestCheckpoints.HostTensor(new long[] {3, VALUES.length / 3}, VALUES));
            TestCheckpoints.writeSafetensors(file, tensors, dtype);
            try (Arena arena = Arena.ofConfined()) {
                Tensor t = SafetensorsFile.open(file, arena).tensors().get("b");
                assertEquals(dtype, t.dtype());
                assertEquals("[3, 6]", t.shapeString());
                float[] read = t.toFloatArray();
                for (int i = 0; i < VALUES.length; i++) {
                    float expected = TestCheckpoints.round(VALUES[i], dtype);
                    assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(read[i]),
                            dtype + " value " + VALUES[i] + " read back as " + read[i] + ", expected " + expected);
                }
            }
        }
    }
}
