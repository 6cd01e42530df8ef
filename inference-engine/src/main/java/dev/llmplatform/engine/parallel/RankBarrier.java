package dev.llmplatform.engine.parallel;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A reusable barrier for the ranks of one tensor-parallel group, in the style of the engine's {@code WorkerPool}:
 * arrivals count on one atomic, the last one advances the phase and wakes the sleepers; a waiter spins briefly
 * (ranks of a balanced step arrive within microseconds of each other) and then parks, so that ranks that
 * outnumber the cores give theirs back instead of burning them.
 *
 * <p>{@link #breakAll} releases every waiter with {@link BrokenException}, now and at every later arrival until
 * {@link #reset}: a rank that fails must not leave the others waiting forever.
 */
final class RankBarrier {
    private static final int SPINS = Integer.getInteger("tp.spins", 2_000);

    /** Thrown to waiters of a barrier that another rank broke. */
    static final class BrokenException extends RuntimeException {
        BrokenException() {
            super("another tensor-parallel rank failed", null, false, false);
        }
    }

    private final int parties;
    private final Thread[] waiters;
    private final AtomicInteger arrived = new AtomicInteger();
    private volatile int phase;
    private volatile boolean broken;

    RankBarrier(int parties) {
        this.parties = parties;
        this.waiters = new Thread[parties];
    }

    void await(int rank) {
        if (broken) {
            throw new BrokenException();
        }
        int p = phase;
        if (arrived.incrementAndGet() == parties) {
            arrived.set(0);
            phase = p + 1;
            wakeAll();
            return;
        }
        waiters[rank] = Thread.currentThread();
        int spins = 0;
        while (phase == p) {
            if (broken) {
                throw new BrokenException();
            }
            if (spins++ < SPINS) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(this, 1_000_000);
            }
        }
    }

    void breakAll() {
        broken = true;
        wakeAll();
    }

    /** Makes a broken barrier usable again; only while no rank is running. */
    void reset() {
        arrived.set(0);
        broken = false;
    }

    private void wakeAll() {
        for (Thread t : waiters) {
            if (t != null) {
                LockSupport.unpark(t);
            }
        }
    }
}
