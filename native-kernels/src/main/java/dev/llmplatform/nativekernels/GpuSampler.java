package dev.llmplatform.nativekernels;

import dev.llmplatform.engine.runtime.SamplingRow;
import dev.llmplatform.engine.runtime.SamplingRule;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;

/**
 * Token selection on the device by the engine's {@link SamplingRule} ({@code sample_rows} in sampling.cuh): each
 * row's {@link SamplingRow} goes into a device buffer, one block per row picks the token from the logits where the
 * LM head left them, and only the ids come back (4 bytes a row instead of a row of logits). Greedy rows take the
 * argmax inside the same launch, so a batch that mixes greedy and sampled requests is one launch.
 *
 * <p>The launch reads everything from device buffers ({@link #enqueue}), so it can be captured in a CUDA graph; the
 * runner enqueues it after its pass (graph or not) on the same stream, as it does the greedy argmax.
 * Not thread-safe: one per runner (stream).
 */
final class GpuSampler implements AutoCloseable {
    /** Bytes of one row's parameters: sampling.cuh's struct SampleRow. */
    static final int ROW_BYTES = 32;
    /** Threads per row: SMP_THREADS in sampling.cuh (its helpers assume exactly this). */
    static final int THREADS = 1024;

    private final KernelModule k;
    private final CUstream_st stream;
    private int capacity;
    private long dRows, hRows, dIds, hIds;

    GpuSampler(KernelModule k, CUstream_st stream) {
        this.k = k;
        this.stream = stream;
    }

    /**
     * Picks each of {@code n} rows of {@code vocab} f32 logits at device address {@code logits} by its row of
     * {@code rows}, into {@code out}; waits for the stream (the ids are needed on the host).
     */
    void sample(long logits, int vocab, SamplingRow[] rows, int n, int[] out) {
        if (n == 0) {
            return;
        }
        ensure(n);
        write(rows, n, hRows);
        Cuda.copyToDevice(dRows, hRows, (long) ROW_BYTES * n, stream);
        enqueue(k, logits, dRows, dIds, vocab, n);
        Cuda.copyToHost(hIds, dIds, 4L * n, stream);
        Cuda.sync(stream);
        try (IntPointer p = new IntPointer(new Cuda.Addr(hIds))) {
            p.get(out, 0, n);
        }
    }

    /** The launch alone (capturable): rows of parameters at dRows, ids written to dIds. */
    static void enqueue(KernelModule k, long logits, long dRows, long dIds, int vocab, int n) {
        k.call("sample_rows").p(logits).p(dRows).p(dIds).i(vocab).launch(n, 1, THREADS, 0);
    }

    /** Rows in sampling.cuh's layout (little-endian): scale, topK | log2MinP, pad | topP | u. */
    static void write(SamplingRow[] rows, int n, long host) {
        try (LongPointer p = new LongPointer(new Cuda.Addr(host))) {
            long[] slots = new long[4 * n];
            for (int r = 0; r < n; r++) {
                SamplingRow row = rows[r];
                slots[4 * r] = (Float.floatToRawIntBits(row.scale()) & 0xffffffffL) | ((long) row.topK() << 32);
                slots[4 * r + 1] = Float.floatToRawIntBits(row.log2MinP()) & 0xffffffffL;
                slots[4 * r + 2] = Double.doubleToRawLongBits(row.topP());
                slots[4 * r + 3] = Double.doubleToRawLongBits(row.u());
            }
            p.put(slots, 0, slots.length);
        }
    }

    private void ensure(int n) {
        if (n <= capacity) {
            return;
        }
        int c = Math.max(n, Math.max(64, 2 * capacity));
        free();
        dRows = Cuda.malloc((long) ROW_BYTES * c);
        hRows = Cuda.mallocHost((long) ROW_BYTES * c);
        dIds = Cuda.malloc(4L * c);
        hIds = Cuda.mallocHost(4L * c);
        capacity = c;
    }

    private void free() {
        Cuda.free(dRows);
        Cuda.free(dIds);
        Cuda.freeHost(hRows);
        Cuda.freeHost(hIds);
        dRows = dIds = hRows = hIds = 0;
        capacity = 0;
    }

    @Override
    public void close() {
        free();
    }
}
