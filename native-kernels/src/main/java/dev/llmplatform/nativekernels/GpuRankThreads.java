package dev.llmplatform.nativekernels;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One thread per GPU rank. A rank's CUDA state (current device, stream, kernels, cuBLASLt handle) belongs to the
 * thread that made it, so every call on a rank, from loading it to each step, runs on that rank's own thread; the
 * caller (the runtime's scheduler) hands each rank its part and waits for all.
 *
 * <p>A failing rank must not leave the others waiting forever inside an all-reduce for a peer that will never come:
 * the first failure calls the group's abort (NCCL's communicator abort, or breaking the copy+add barrier), the
 * others then return, and {@link #call} throws the failing rank's exception. A rank still busy
 * {@link #STOP_SECONDS} after an abort is reported as hung rather than waited for.
 */
final class GpuRankThreads implements AutoCloseable {
    static final long STOP_SECONDS = 60;

    /** One rank's part of a call. */
    @FunctionalInterface
    interface RankCall<T> {
        T call(int rank) throws Exception;
    }

    private final ExecutorService[] executors;

    GpuRankThreads(int ranks) {
        executors = new ExecutorService[ranks];
        for (int r = 0; r < ranks; r++) {
            String name = "gpu-rank-" + r;
            executors[r] = Executors.newSingleThreadExecutor(task -> Thread.ofPlatform().daemon().name(name).unstarted(task));
        }
    }

    int size() {
        return executors.length;
    }

    /** Runs {@code task} on every rank's thread at once; the ranks' results in rank order. */
    <T> List<T> call(RankCall<T> task, Runnable abort) {
        int n = executors.length;
        List<CompletableFuture<T>> futures = new ArrayList<>(n);
        Object lock = new Object();
        long[] failedAt = {0};
        for (int r = 0; r < n; r++) {
            int rank = r;
            CompletableFuture<T> f = CompletableFuture.supplyAsync(() -> {
                try {
                    return task.call(rank);
                } catch (RuntimeException e) {
                    throw e;
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            }, executors[r]);
            // The futures waited for below are the callbacks' own, so a call never returns before every abort it
            // triggers has run (a late abort would break the next step). Only the first failure aborts: the
            // others are its consequences.
            futures.add(f.whenComplete((v, e) -> {
                if (e != null) {
                    boolean first;
                    synchronized (lock) {
                        first = failedAt[0] == 0;
                        if (first) {
                            failedAt[0] = System.nanoTime();
                        }
                    }
                    if (first) {
                        abort.run();
                    }
                }
            }));
        }
        CompletableFuture<Void> all = CompletableFuture.allOf(futures.toArray(new CompletableFuture[0]));
        while (true) {
            try {
                all.get(1, TimeUnit.SECONDS);
                break;
            } catch (ExecutionException e) {
                break; // every rank is done; the failures are read below
            } catch (TimeoutException e) {
                long since;
                synchronized (lock) {
                    since = failedAt[0];
                }
                if (since != 0 && System.nanoTime() - since > TimeUnit.SECONDS.toNanos(STOP_SECONDS)) {
                    List<Integer> busy = new ArrayList<>();
                    for (int r = 0; r < n; r++) {
                        if (!futures.get(r).isDone()) {
                            busy.add(r);
                        }
                    }
                    throw new IllegalStateException("tensor-parallel ranks " + busy + " did not stop within " + STOP_SECONDS
                            + " s after a rank failed: " + firstFailure(futures), firstFailure(futures));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                abort.run();
                throw new IllegalStateException("interrupted while the ranks computed", e);
            }
        }
        Throwable first = firstFailure(futures);
        if (first != null) {
            if (first instanceof RuntimeException re) {
                throw re;
            }
            if (first instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(first);
        }
        List<T> out = new ArrayList<>(n);
        for (CompletableFuture<T> f : futures) {
            out.add(f.join());
        }
        return out;
    }

    /** The failure to report: a rank's own, before one that only says a peer failed. */
    private static Throwable firstFailure(List<? extends CompletableFuture<?>> futures) {
        Throwable first = null;
        for (CompletableFuture<?> f : futures) {
            if (f.isCompletedExceptionally()) {
                Throwable t = f.handle((v, e) -> e).join();
                while (t instanceof CompletionException && t.getCause() != null) {
                    t = t.getCause();
                }
                if (first == null || (first instanceof PeerFailedException && !(t instanceof PeerFailedException))) {
                    first = t;
                }
            }
        }
        return first;
    }

    @Override
    public void close() {
        for (ExecutorService e : executors) {
            e.shutdown();
        }
    }
}
