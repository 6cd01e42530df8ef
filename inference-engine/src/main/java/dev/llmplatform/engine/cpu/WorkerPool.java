package dev.llmplatform.engine.cpu;

import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of threads that run one data-parallel loop at a time, for the engine's kernels.
 *
 * <p>Why not a ForkJoinPool: a decode step dispatches a few hundred short loops (one per matrix product), and
 * each submission there allocates tasks and wakes threads through queues. Here the caller publishes a task in
 * fields, bumps a generation counter, and joins the work itself; workers spin briefly between loops (they are
 * usually back within microseconds) before parking, so a dispatch costs well under a microsecond when hot and
 * nothing is allocated. Ranges are handed out through one atomic counter, so faster threads take more chunks.
 *
 * <p>One caller at a time: the engine runs one forward pass at a time per pool.
 */
public final class WorkerPool implements AutoCloseable {

    /** A loop body over {@code [from, to)}; {@code worker} in {@code [0, threads)} indexes per-thread scratch. */
    @FunctionalInterface
    public interface RangeTask {
        void run(int from, int to, int worker);
    }

    private static final int SPINS = Integer.getInteger("pool.spins", 2_000);

    private final int threads;
    private final Thread[] workers;
    private final boolean[] sleeping;
    private volatile int generation;
    private volatile boolean closed;
    private final AtomicInteger nextChunk = new AtomicInteger();
    private final AtomicInteger pending = new AtomicInteger();
    private volatile Thread caller;
    private volatile boolean callerSleeping;
    private volatile Throwable failure;
    // The published loop: written by the caller before the generation bump, read by workers after it.
    private RangeTask task;
    private int n;
    private int chunk;
    private int chunks;

    public WorkerPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        this.sleeping = new boolean[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            final int id = i + 1;
            workers[i] = Thread.ofPlatform().daemon().name("engine-worker-" + id).start(() -> workerLoop(id));
        }
    }

    public static int defaultThreads() {
        return Runtime.getRuntime().availableProcessors();
    }

    public int threads() {
        return threads;
    }

    /** Runs {@code task} over {@code [0, n)} in chunks of at least {@code grain} items, on all threads. */
    public void parallelFor(int n, int grain, RangeTask task) {
        if (n <= 0) {
            return;
        }
        int maxChunks = Math.max(1, (n + grain - 1) / Math.max(1, grain));
        int chunks = Math.min(maxChunks, threads * 4);
        if (threads == 1 || chunks == 1) {
            task.run(0, n, 0);
            return;
        }
        this.task = task;
        this.n = n;
        this.chunk = (n + chunks - 1) / chunks;
        this.chunks = (n + chunk - 1) / chunk;
        this.caller = Thread.currentThread();
        nextChunk.set(0);
        pending.set(workers.length);
        generation++; // publishes the fields above
        VarHandle.fullFence(); // pairs with the worker's fence: either it sees the new generation or we see it asleep
        for (int i = 0; i < workers.length; i++) {
            if (sleeping[i]) {
                LockSupport.unpark(workers[i]);
            }
        }
        runChunks(0);
        awaitWorkers();
        this.task = null;
        Throwable f = failure;
        if (f != null) {
            failure = null;
            if (f instanceof RuntimeException re) {
                throw re;
            }
            if (f instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(f);
        }
    }

    private void runChunks(int worker) {
        RangeTask t = task;
        int c;
        while ((c = nextChunk.getAndIncrement()) < chunks) {
            int from = c * chunk;
            int to = Math.min(n, from + chunk);
            try {
                t.run(from, to, worker);
            } catch (Throwable e) {
                failure = e;
            }
        }
    }

    private void awaitWorkers() {
        int spins = 0;
        while (pending.get() != 0) {
            if (spins++ < SPINS) {
                Thread.onSpinWait();
            } else {
                callerSleeping = true;
                if (pending.get() != 0) {
                    LockSupport.parkNanos(this, 1_000_000);
                }
                callerSleeping = false;
            }
        }
    }

    private void workerLoop(int id) {
        int seen = 0;
        int slot = id - 1;
        while (!closed) {
            int spins = 0;
            while (generation == seen && !closed) {
                if (spins++ < SPINS) {
                    Thread.onSpinWait();
                } else {
                    sleeping[slot] = true;
                    // Re-check after announcing sleep: the caller unparks only sleepers it sees.
                    VarHandle.fullFence();
                    if (generation == seen && !closed) {
                        LockSupport.parkNanos(this, 10_000_000);
                    }
                    sleeping[slot] = false;
                }
            }
            if (closed) {
                return;
            }
            seen = generation;
            runChunks(id);
            if (pending.decrementAndGet() == 0 && callerSleeping) {
                LockSupport.unpark(caller);
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
    }
}
