package dev.llmplatform.engine.parallel;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The threads of a tensor-parallel group: rank 0 is the caller (the runtime's scheduler thread), ranks 1..n-1 are
 * threads of their own that wait for the next step. {@link #run} publishes one task, runs rank 0's part in the
 * caller, and returns when every rank is done; a rank's failure breaks the group's barrier, so the others stop at
 * their next all-reduce instead of waiting for it, and {@link #run} throws the first real failure. The group is
 * usable again afterwards.
 *
 * <p>Idle ranks spin briefly, then park (as the worker pool does): steps follow each other within microseconds
 * under load, and an idle server costs nothing.
 */
final class RankThreads implements AutoCloseable {
    private static final int SPINS = Integer.getInteger("tp.spins", 2_000);

    /** One rank's part of a step. */
    @FunctionalInterface
    interface RankTask {
        void run(int rank);
    }

    private final int ranks;
    private final RankBarrier barrier;
    private final Thread[] threads;
    private final Throwable[] failures;
    private final AtomicInteger pending = new AtomicInteger();
    private volatile int generation;
    private volatile boolean closed;
    private volatile Thread caller;
    private RankTask task; // published by the generation bump

    RankThreads(int ranks, RankBarrier barrier) {
        this.ranks = ranks;
        this.barrier = barrier;
        this.failures = new Throwable[ranks];
        this.threads = new Thread[ranks - 1];
        for (int i = 0; i < threads.length; i++) {
            int rank = i + 1;
            threads[i] = Thread.ofPlatform().daemon().name("engine-rank-" + rank).start(() -> loop(rank));
        }
    }

    void run(RankTask t) {
        if (closed) {
            throw new IllegalStateException("the tensor-parallel group is closed");
        }
        task = t;
        caller = Thread.currentThread();
        java.util.Arrays.fill(failures, null);
        pending.set(ranks - 1);
        generation++;
        for (Thread th : threads) {
            LockSupport.unpark(th);
        }
        runRank(0, t);
        int spins = 0;
        while (pending.get() != 0) {
            if (spins++ < SPINS) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(this, 1_000_000);
            }
        }
        task = null;
        Throwable first = null;
        for (Throwable f : failures) {
            if (f != null && (first == null || first instanceof RankBarrier.BrokenException)) {
                first = f;
            }
        }
        if (first != null) {
            barrier.reset();
            if (first instanceof RuntimeException re) {
                throw re;
            }
            if (first instanceof Error e) {
                throw e;
            }
            throw new IllegalStateException(first);
        }
    }

    private void runRank(int rank, RankTask t) {
        try {
            t.run(rank);
        } catch (Throwable e) {
            failures[rank] = e;
            barrier.breakAll();
        }
    }

    private void loop(int rank) {
        int seen = 0;
        while (true) {
            int spins = 0;
            while (generation == seen && !closed) {
                if (spins++ < SPINS) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.parkNanos(this, 10_000_000);
                }
            }
            if (closed) {
                return;
            }
            seen = generation;
            runRank(rank, task);
            if (pending.decrementAndGet() == 0) {
                LockSupport.unpark(caller);
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread t : threads) {
            LockSupport.unpark(t);
        }
    }
}
