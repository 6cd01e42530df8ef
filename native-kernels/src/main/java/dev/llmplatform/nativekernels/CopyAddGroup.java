package dev.llmplatform.nativekernels;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLongArray;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;

/**
 * The all-reduce as copies and adds, for ranks that share one GPU (NCCL refuses two ranks on a device), so that the
 * sharding runs on one GPU; it also works between GPUs (peer copies) where NCCL is absent. Each rank sums every
 * rank's buffer in rank order into its own accumulator (so every rank gets the same bits), then copies the sum back
 * over its buffer:
 * <pre>
 *   record ready[r]; barrier; acc = buf[0]; acc += buf[1]; ...; record copied[r]; barrier; wait copied[*]; buf[r] = acc
 * </pre>
 * The ranks' streams are ordered by events; the host barriers make sure that every rank has recorded its event of
 * this sum before the others wait on it (a stream waits for an event's latest record at the time of the wait).
 * Because of the host barriers inside a pass, these sums cannot be captured into CUDA graphs: ranks using this
 * group run kernel by kernel.
 */
final class CopyAddGroup implements ReduceGroup {
    private final int[] devices;
    private final AtomicLongArray buffers;
    private final CUevent_st[] ready, copied;
    private final StepBarrier barrier;

    CopyAddGroup(int[] devices) {
        this.devices = devices.clone();
        int n = devices.length;
        buffers = new AtomicLongArray(n);
        ready = new CUevent_st[n];
        copied = new CUevent_st[n];
        barrier = new StepBarrier(n);
    }

    @Override
    public Rank rank(int r) {
        return new Rank() {
            private CUstream_st stream;
            private KernelModule k;
            private long acc, tmp, capacity;

            @Override
            public void bind(CUstream_st s, KernelModule kernels) {
                stream = s;
                k = kernels;
                ready[r] = Cuda.newEvent();
                copied[r] = Cuda.newEvent();
                for (int d : devices) {
                    Cuda.enablePeerAccess(d);
                }
            }

            @Override
            public void reserve(long floats) {
                if (floats > capacity) {
                    Cuda.sync(stream);
                    Cuda.free(acc);
                    Cuda.free(tmp);
                    acc = Cuda.malloc(4 * floats);
                    tmp = Cuda.malloc(4 * floats);
                    capacity = floats;
                }
            }

            @Override
            public void sum(long buf, long floats) {
                if (floats > capacity) {
                    throw new IllegalStateException("all-reduce of " + floats + " floats exceeds the reserved " + capacity);
                }
                long bytes = 4 * floats;
                buffers.set(r, buf);
                Cuda.record(ready[r], stream);
                barrier.await();
                for (int q = 0; q < ready.length; q++) {
                    Cuda.waitEvent(stream, ready[q]);
                    Cuda.copyAny(q == 0 ? acc : tmp, buffers.get(q), bytes, stream);
                    if (q > 0) {
                        k.add(acc, tmp, floats);
                    }
                }
                Cuda.record(copied[r], stream);
                barrier.await();
                for (int q = 0; q < copied.length; q++) {
                    if (q != r) {
                        Cuda.waitEvent(stream, copied[q]); // nobody reads our buffer any more
                    }
                }
                Cuda.copyAny(buf, acc, bytes, stream);
            }

            @Override
            public boolean capturable() {
                return false;
            }
        };
    }

    @Override
    public String describe() {
        return "copy+add over devices " + Arrays.toString(devices);
    }

    @Override
    public void abort() {
        barrier.abort();
    }

    @Override
    public void beginStep() {
        barrier.rearm();
    }

    @Override
    public void close() {
        for (CUevent_st e : ready) {
            Cuda.destroy(e);
        }
        for (CUevent_st e : copied) {
            Cuda.destroy(e);
        }
    }

    /**
     * A reusable barrier that {@link #abort} breaks for the rest of the step, including for ranks that arrive after
     * the abort (a {@code CyclicBarrier}'s reset would let a late rank wait forever); {@link #rearm} before the next.
     */
    static final class StepBarrier {
        private final int parties;
        private int arrived;
        private long generation;
        private boolean aborted;

        StepBarrier(int parties) {
            this.parties = parties;
        }

        synchronized void await() {
            if (aborted) {
                throw new PeerFailedException();
            }
            long gen = generation;
            if (++arrived == parties) {
                arrived = 0;
                generation++;
                notifyAll();
                return;
            }
            while (gen == generation && !aborted) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted in an all-reduce", e);
                }
            }
            if (gen == generation) {
                throw new PeerFailedException();
            }
        }

        synchronized void abort() {
            aborted = true;
            notifyAll();
        }

        synchronized void rearm() {
            aborted = false;
            arrived = 0;
        }
    }

    /** A rank stopped because another one failed (the other's exception is the one to report). */
}
