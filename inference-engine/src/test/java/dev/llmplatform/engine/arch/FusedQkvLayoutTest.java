package dev.llmplatform.engine.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.llmplatform.engine.cpu.WeightMatrix;
import dev.llmplatform.engine.model.DType;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

/**
 * Where each head's q, k and v start in a fused projection's output, for the layouts transformers splits with
 * {@code view(...)}: these offsets are what makes Falcon's new decoder architecture and BLOOM read the right columns.
 */
class FusedQkvLayoutTest {
    private static WeightMatrix matrix(int rows) {
        return new WeightMatrix("qkv", Arena.ofAuto().allocate(rows * 4L * 4), DType.F32, rows, 4, false);
    }

    @Test
    void falconNewDecoderArchitectureGroupsQueriesWithTheirKeyAndValue() {
        // view(batch, seq, kv_heads=2, heads/kv_heads + 2 = 4, head_dim=16): [q0 q1 k0 v0][q2 q3 k1 v1]
        var f = LayerWeights.FusedQkv.grouped(matrix(128), null, 4, 2, 16);
        assertArrayEquals(new int[] {0, 16, 64, 80}, f.qOffset());
        assertArrayEquals(new int[] {32, 96}, f.kOffset());
        assertArrayEquals(new int[] {48, 112}, f.vOffset());
    }

    @Test
    void bloomInterleavesQueryKeyValuePerHead() {
        // view(batch, seq, heads=3, 3, head_dim=8): [q0 k0 v0][q1 k1 v1][q2 k2 v2]
        var f = LayerWeights.FusedQkv.grouped(matrix(72), null, 3, 3, 8);
        assertArrayEquals(new int[] {0, 24, 48}, f.qOffset());
        assertArrayEquals(new int[] {8, 32, 56}, f.kOffset());
        assertArrayEquals(new int[] {16, 40, 64}, f.vOffset());
    }

    @Test
    void multiQueryStoresAllQueriesThenOneKeyAndValue() {
        // Falcon-7B: view(batch, seq, heads + 2, head_dim): [q0 .. q3 | k | v]
        var f = LayerWeights.FusedQkv.sequential(matrix(96), null, 4, 1, 16);
        assertArrayEquals(new int[] {0, 16, 32, 48}, f.qOffset());
        assertArrayEquals(new int[] {64}, f.kOffset());
        assertArrayEquals(new int[] {80}, f.vOffset());
    }
}
