package dev.llmplatform.engine.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The rank group's threads, barrier and all-reduce: sums in a fixed order, and a failing rank hangs nobody. */
class RankThreadsTest {

    @Test
    void allReduceGivesEveryRankTheSameSum() {
        int ranks = 3;
        RankBarrier barrier = new RankBarrier(ranks);
        InProcessAllReduce allReduce = new InProcessAllReduce(ranks, barrier);
        float[][] data = new float[ranks][1001];
        try (RankThreads threads = new RankThreads(ranks, barrier)) {
            allReduce.ensureCapacity(1001);
            for (int step = 0; step < 50; step++) {
                for (int r = 0; r < ranks; r++) {
                    for (int i = 0; i < 1001; i++) {
                        data[r][i] = (r + 1) * 0.1f + i;
                    }
                }
                threads.run(r -> allReduce.sum(r, data[r], 1001));
                for (int r = 0; r < ranks; r++) {
                    for (int i = 0; i < 1001; i++) {
                        // in rank order: ((p0 + p1) + p2), bit for bit on every rank
                        float expected = (0.1f + i) + (0.2f + i) + (0.3f + i);
                        assertEquals(expected, data[r][i], 0f, "rank " + r + " element " + i);
                    }
                }
            }
        }
    }

    @Test
    void aFailingRankEndsTheStepWithItsErrorAndTheGroupWorksAfterwards() {
        int ranks = 3;
        RankBarrier barrier = new RankBarrier(ranks);
        InProcessAllReduce allReduce = new InProcessAllReduce(ranks, barrier);
        try (RankThreads threads = new RankThreads(ranks, barrier)) {
            allReduce.ensureCapacity(4);
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> threads.run(r -> {
                    if (r == 1) {
                        throw new IllegalStateException("rank 1 fails");
                    }
                    allReduce.sum(r, new float[4], 4); // the others would wait here for rank 1 forever
                }));
                assertEquals("rank 1 fails", e.getMessage());
            });
            float[][] data = {{1, 1, 1, 1}, {2, 2, 2, 2}, {3, 3, 3, 3}};
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> threads.run(r -> allReduce.sum(r, data[r], 4)));
            assertEquals(6f, data[2][3]);
        }
    }
}
