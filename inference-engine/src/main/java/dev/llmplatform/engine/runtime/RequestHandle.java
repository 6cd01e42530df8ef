package dev.llmplatform.engine.runtime;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A submitted request: its events (pushed to the listener given at submission, on the runtime's thread, and kept
 * in a queue for {@link #take} when no listener was given), its completion, and cancellation.
 */
public final class RequestHandle {
    private final long id;
    private final Consumer<GenerationEvent> listener;
    private final BlockingQueue<GenerationEvent> queue;
    private final CompletableFuture<GenerationEvent.Finished> completion = new CompletableFuture<>();
    private final Runnable wakeRuntime;
    private volatile boolean cancelRequested;
    private final long submittedNanos = System.nanoTime();
    private volatile long admittedNanos;
    private volatile double energyJoules = Double.NaN;

    RequestHandle(long id, Consumer<GenerationEvent> listener, Runnable wakeRuntime) {
        this.id = id;
        this.listener = listener;
        this.queue = listener == null ? new LinkedBlockingQueue<>() : null;
        this.wakeRuntime = wakeRuntime;
    }

    public long id() {
        return id;
    }

    /** Asks the runtime to stop this request; it leaves the batch before the next step and its memory is freed. */
    public void cancel() {
        if (!completion.isDone()) {
            cancelRequested = true;
            wakeRuntime.run();
        }
    }

    /** {@link System#nanoTime()} at submission. */
    public long submittedNanos() {
        return submittedNanos;
    }

    /**
     * {@link System#nanoTime()} when the scheduler first admitted the request into the running batch (the end of
     * its queue time), or 0 while it has not been admitted (it may finish without ever being admitted, if cancelled).
     */
    public long admittedNanos() {
        return admittedNanos;
    }

    void markAdmitted() {
        admittedNanos = System.nanoTime();
    }

    /**
     * Energy charged to this request so far, in joules: its share (by tokens) of every forward pass it took part in,
     * from the runtime's {@link EnergyMeter}; NaN when the runtime has none (or before its first metered step).
     */
    public double energyJoules() {
        return energyJoules;
    }

    /** Called by the runtime's thread only. */
    void addEnergy(double joules) {
        double e = energyJoules;
        energyJoules = Double.isNaN(e) ? joules : e + joules;
    }

    boolean cancelRequested() {
        return cancelRequested;
    }

    public boolean isDone() {
        return completion.isDone();
    }

    /** Completes with the finish event. */
    public CompletableFuture<GenerationEvent.Finished> completion() {
        return completion;
    }

    /** The next event (only for handles submitted without a listener); blocks up to {@code timeout}. */
    public GenerationEvent poll(long timeout, TimeUnit unit) throws InterruptedException {
        if (queue == null) {
            throw new IllegalStateException("events of request " + id + " go to its listener");
        }
        return queue.poll(timeout, unit);
    }

    /** Waits for the end and returns all events (only for handles submitted without a listener). */
    public List<GenerationEvent> awaitEvents(long timeout, TimeUnit unit) throws InterruptedException {
        List<GenerationEvent> out = new ArrayList<>();
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        while (true) {
            GenerationEvent e = poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (e == null) {
                throw new IllegalStateException("request " + id + " did not finish within " + timeout + " " + unit);
            }
            out.add(e);
            if (e instanceof GenerationEvent.Finished) {
                return out;
            }
        }
    }

    void emit(GenerationEvent e) {
        if (e instanceof GenerationEvent.Finished f) {
            completion.complete(f); // before delivery, so whoever sees the event sees the handle done
        }
        if (listener != null) {
            try {
                listener.accept(e);
            } catch (RuntimeException ignored) {
                // A failing listener must not take the runtime down; the request goes on (or is cancelled by it).
            }
        } else {
            queue.add(e);
        }
    }
}
