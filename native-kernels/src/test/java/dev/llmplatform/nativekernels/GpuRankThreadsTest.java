package dev.llmplatform.nativekernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The rank threads and the copy+add group's barrier, without a GPU: a rank that fails while its peer waits for it
 * in an all-reduce must end the call with the failing rank's exception (not the peer's "stopped" one, not a hang),
 * and the barrier must work again after the next step's re-arm.
 */
class GpuRankThreadsTest {

    @Test
    void eachRankRunsOnItsOwnThreadAndResultsComeInRankOrder() {
        try (GpuRankThreads t = new GpuRankThreads(3)) {
            List<String> names = t.call(r -> r + ":" + Thread.currentThread().getName(), () -> { });
            assertEquals(List.of("0:gpu-rank-0", "1:gpu-rank-1", "2:gpu-rank-2"), names);
        }
    }

    @Test
    @Timeout(20)
    void aFailingRankAbortsThePeerWaitingForItAndItsExceptionIsReported() {
        CopyAddGroup.StepBarrier barrier = new CopyAddGroup.StepBarrier(2);
        AtomicInteger aborts = new AtomicInteger();
        try (GpuRankThreads t = new GpuRankThreads(2)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> t.call(r -> {
                if (r == 1) {
                    Thread.sleep(200); // rank 0 is inside the barrier by now
                    throw new IllegalStateException("rank 1 broke");
                }
                barrier.await(); // would wait forever for rank 1 without the abort
                return null;
            }, () -> {
                aborts.incrementAndGet();
                barrier.abort();
            }));
            assertEquals("rank 1 broke", e.getMessage());
            assertTrue(aborts.get() >= 1);

            // Next step: re-armed, both ranks meet again.
            barrier.rearm();
            List<Integer> ok = t.call(r -> {
                barrier.await();
                return r;
            }, barrier::abort);
            assertEquals(List.of(0, 1), ok);
        }
    }

    @Test
    @Timeout(20)
    void aRankArrivingAfterTheAbortDoesNotWait() {
        CopyAddGroup.StepBarrier barrier = new CopyAddGroup.StepBarrier(2);
        barrier.abort();
        assertThrows(PeerFailedException.class, barrier::await);
    }
}
