package dev.llmplatform.nativekernels;

import static org.bytedeco.cuda.global.cudart.*;

import java.util.Arrays;
import org.bytedeco.cuda.cudart.CUgraphExec_st;
import org.bytedeco.cuda.cudart.CUgraph_st;
import org.bytedeco.cuda.cudart.CUstream_st;

/**
 * Forward passes captured as CUDA graphs, one per batch-size bucket, so that a decode step costs one graph launch
 * instead of a dozen kernel and GEMM launches per layer. A graph holds the device addresses it was captured with
 * (weights, activations, the KV arena, the step's metadata buffer): whoever owns those must {@link #clear()} the
 * graphs before moving any of them. What changes from step to step (token ids, positions, block tables) is copied
 * into the metadata buffer before each replay, and the kernels read it from there.
 *
 * <p>A bucket is first run eagerly once (so that cuBLASLt and the kernels finish their lazy loading and plan
 * selection outside a capture), captured on its second use, and replayed from then on.
 */
final class DecodeGraphs implements AutoCloseable {
    /** Batch sizes with a graph; a batch is padded up to the next one. */
    static final int[] BUCKETS = {1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256};
    static final int MAX_BUCKET = BUCKETS[BUCKETS.length - 1];

    private final CUgraphExec_st[] execs = new CUgraphExec_st[BUCKETS.length];
    private final boolean[] warmed = new boolean[BUCKETS.length];
    private int captures;

    /** The smallest bucket holding n tokens (n at most {@link #MAX_BUCKET}). */
    static int bucket(int n) {
        for (int b : BUCKETS) {
            if (b >= n) {
                return b;
            }
        }
        throw new IllegalArgumentException(n + " tokens exceed the largest graph bucket " + MAX_BUCKET);
    }

    /**
     * Runs the pass for {@code bucket} on {@code stream}: replays its graph, or (first use) enqueues it eagerly, or
     * (second use) captures it and replays the capture. {@code pass} enqueues the whole pass for that bucket.
     */
    void run(int bucket, CUstream_st stream, Runnable pass) {
        int i = Arrays.binarySearch(BUCKETS, bucket);
        if (execs[i] == null) {
            if (!warmed[i]) {
                pass.run();
                warmed[i] = true;
                return;
            }
            execs[i] = capture(stream, pass);
            captures++;
        }
        Cuda.check(cudaGraphLaunch(execs[i], stream), "cudaGraphLaunch(bucket " + bucket + ")");
    }

    private static CUgraphExec_st capture(CUstream_st stream, Runnable pass) {
        Cuda.check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
        CUgraph_st graph = new CUgraph_st();
        try {
            pass.run();
        } catch (RuntimeException | Error e) {
            cudaStreamEndCapture(stream, graph); // leave capture mode; the partial graph is dropped
            if (!graph.isNull()) {
                cudaGraphDestroy(graph);
            }
            throw e;
        }
        Cuda.check(cudaStreamEndCapture(stream, graph), "cudaStreamEndCapture");
        CUgraphExec_st exec = new CUgraphExec_st();
        try {
            Cuda.check(cudaGraphInstantiate(exec, graph, 0L), "cudaGraphInstantiate");
        } finally {
            cudaGraphDestroy(graph);
        }
        return exec;
    }

    /** Graphs captured so far (a bucket recaptured after {@link #clear()} counts again). */
    int captures() {
        return captures;
    }

    /** Destroys every graph (their addresses are about to go stale); buckets stay warmed. */
    void clear() {
        for (int i = 0; i < execs.length; i++) {
            if (execs[i] != null) {
                cudaGraphExecDestroy(execs[i]);
                execs[i] = null;
            }
        }
    }

    @Override
    public void close() {
        clear();
    }
}
