package dev.llmplatform.nativekernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Needs no GPU: how batches map to graph buckets. */
class DecodeGraphsTest {

    @Test
    void shouldPadEveryBatchSizeToTheSmallestBucketThatHoldsIt() {
        for (int n = 1; n <= DecodeGraphs.MAX_BUCKET; n++) {
            int b = DecodeGraphs.bucket(n);
            assertTrue(b >= n, n + " -> " + b);
            for (int other : DecodeGraphs.BUCKETS) {
                assertTrue(other < n || other >= b, n + " -> " + b + " but " + other + " also holds it");
            }
        }
        assertEquals(1, DecodeGraphs.bucket(1));
        assertEquals(48, DecodeGraphs.bucket(37));
        assertEquals(256, DecodeGraphs.bucket(256));
    }

    @Test
    void shouldRefuseBatchesAboveTheLargestBucket() {
        assertThrows(IllegalArgumentException.class, () -> DecodeGraphs.bucket(DecodeGraphs.MAX_BUCKET + 1));
    }
}
