package dev.llmplatform.nativekernels;

import java.util.Arrays;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.LongPointer;

/**
 * The all-reduce of GPU ranks in one process as TensorRT-LLM and vLLM do it for small messages: a one-shot kernel
 * ({@code allreduce_one_shot} in {@code allreduce.cuh}, where its protocol is explained) in which each rank stages
 * its buffer in its own memory, exchanges one flag with every peer and reads the peers' staged buffers directly over
 * peer access (NVLink); messages over {@link #DEFAULT_LIMIT_BYTES} (or of a size not a multiple of 4 floats) go to
 * NCCL, whose ring moves large messages at the link's bandwidth. Decode steps at small batches send
 * {@code [tokens][hidden]} f32 partial sums of 8-32 KB, where NCCL costs 7-14 us per call, mostly latency
 * (H100 pair, 2026-11-25).
 *
 * <p>Every buffer the kernel touches is allocated here, for every device, before any rank runs: staging halves,
 * flags, counters and each rank's table of peer addresses. Sums may be captured into CUDA graphs (the kernel's
 * per-call state lives on the devices), and then every rank must replay its graph in the same step, as with NCCL.
 *
 * <p>A rank whose all-reduce is followed by the Llama block's residual add and RMSNorm asks for both at once
 * ({@link Rank#sumAddRmsnorm}, {@code allreduce_add_rmsnorm}: one block per token row), which saves a kernel per
 * all-reduce and gives the same bits.
 *
 * <p>{@link #abort} sets a flag in mapped host memory that waiting kernels poll, so a failed rank cannot leave its
 * peers spinning; after it, as after NCCL's abort, the group is done (reload the model).
 */
final class PeerAllReduceGroup implements ReduceGroup {
    /** Messages up to this size take the one-shot kernel: above it NCCL's bandwidth wins (each rank reads (n-1) x). */
    static final long DEFAULT_LIMIT_BYTES = 1 << 20;
    private static final int MAX_RANKS = 8, BLOCKS = 32, THREADS = 512;
    /** The most token rows the fused all-reduce + add + RMSNorm takes (one block per row; flags after the 32 blocks'). */
    static final int MAX_FUSED_ROWS = 256;
    /**
     * The fewest rows worth fusing: the fused kernel runs a block per row, and one or a few blocks exchange a row
     * more slowly than the one-shot kernel's 32 (H100 pair, Llama-2-7B at TP=2, 2026-11-25: fused 237 vs apart 247
     * tok/s at batch 1; 8,735 vs 8,572 at batch 64).
     */
    static final int MIN_FUSED_ROWS = 16;
    /** Benchmark switch: whether ranks fuse the all-reduce with the add + RMSNorm after it (default on). */
    static volatile boolean fuseAddRmsnorm = true;

    private final int[] devices;
    private final long limitFloats;
    private NcclGroup nccl; // set in the constructor (null only when it failed before)
    private final long[] stage, fusedStage, flags, counters, tables;
    private long abortFlag; // mapped host memory, one int (cudaMallocHost memory is mapped under unified addressing)
    private volatile boolean aborted;
    private boolean closed;

    /** Why the one-shot kernel cannot run over these devices (peer access missing), or null when it can. */
    static String unavailableReason(int[] devices) {
        if (devices.length > MAX_RANKS) {
            return "at most " + MAX_RANKS + " ranks, got " + devices.length;
        }
        for (int a : devices) {
            for (int b : devices) {
                if (a != b && !Cuda.canAccessPeer(a, b)) {
                    return "GPU " + a + " cannot access GPU " + b + "'s memory directly";
                }
            }
        }
        String why = NcclGroup.unavailableReason(devices);
        return why == null ? null : "NCCL (for large messages): " + why;
    }

    PeerAllReduceGroup(int[] devices, long limitBytes) {
        String why = unavailableReason(devices);
        if (why != null) {
            throw new IllegalStateException("peer all-reduce unavailable: " + why);
        }
        this.devices = devices.clone();
        int n = devices.length;
        limitFloats = limitBytes / 4 / 4 * 4;
        stage = new long[n];
        fusedStage = new long[n];
        flags = new long[n];
        counters = new long[n];
        tables = new long[n];
        try {
            nccl = new NcclGroup(devices);
            abortFlag = Cuda.mallocHost(4);
            Cuda.writeHostInt(abortFlag, 0);
            for (int r = 0; r < n; r++) {
                Cuda.init(devices[r]);
                for (int d : devices) {
                    Cuda.enablePeerAccess(d);
                }
                stage[r] = Cuda.malloc(2 * 4 * limitFloats);
                fusedStage[r] = Cuda.malloc(2 * 4 * limitFloats);
                flags[r] = Cuda.malloc(4L * (BLOCKS + MAX_FUSED_ROWS) * MAX_RANKS);
                counters[r] = Cuda.malloc(4L * (BLOCKS + MAX_FUSED_ROWS));
                tables[r] = Cuda.malloc(8L * 3 * n);
                Cuda.memsetSync(flags[r], 4L * (BLOCKS + MAX_FUSED_ROWS) * MAX_RANKS);
                Cuda.memsetSync(counters[r], 4L * (BLOCKS + MAX_FUSED_ROWS));
            }
            // Every rank's table: the stages, the flags, the fused path's stages (allreduce.cuh).
            try (LongPointer table = new LongPointer(3L * n)) {
                for (int r = 0; r < n; r++) {
                    table.put(r, stage[r]);
                    table.put(n + r, flags[r]);
                    table.put(2L * n + r, fusedStage[r]);
                }
                for (int r = 0; r < n; r++) {
                    Cuda.init(devices[r]);
                    Cuda.copyToDeviceSync(tables[r], table.address(), 8L * 3 * n);
                }
            }
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    @Override
    public Rank rank(int r) {
        ReduceGroup.Rank large = nccl.rank(r);
        return new Rank() {
            private CUstream_st stream;
            private KernelModule k;

            @Override
            public void bind(CUstream_st s, KernelModule kernels) {
                stream = s;
                k = kernels;
                large.bind(s, kernels);
            }

            @Override
            public void sum(long buf, long floats) {
                if (aborted) {
                    throw new PeerFailedException();
                }
                if (floats > limitFloats || floats % 4 != 0) {
                    large.sum(buf, floats);
                    return;
                }
                k.call("allreduce_one_shot").p(buf).p(floats / 4).p(tables[r]).i(r).i(devices.length).p(limitFloats / 4)
                        .p(counters[r]).p(abortFlag).launch(BLOCKS, 1, THREADS, 0);
            }

            @Override
            public boolean fusesAddRmsnorm(int rows, int hidden) {
                return fuseAddRmsnorm && rows >= MIN_FUSED_ROWS && rows <= MAX_FUSED_ROWS && (long) rows * hidden <= limitFloats;
            }

            @Override
            public void sumAddRmsnorm(long buf, int rows, int hidden, long x, long bias, long w, long out, int outType, float eps) {
                if (aborted) {
                    throw new PeerFailedException();
                }
                if (!fusesAddRmsnorm(rows, hidden)) {
                    throw new IllegalArgumentException("the fused all-reduce takes at most " + MAX_FUSED_ROWS + " rows and "
                            + limitFloats + " floats, got " + rows + " x " + hidden);
                }
                k.call("allreduce_add_rmsnorm").p(buf).i(hidden).p(tables[r]).i(r).i(devices.length).p(limitFloats)
                        .p(counters[r]).p(abortFlag).i(BLOCKS).p(x).p(bias).p(w).p(out).i(outType).f(eps)
                        .launch(rows, 1, KernelModule.addRmsnormThreads(hidden), 0);
            }

            @Override
            public boolean capturable() {
                return true;
            }
        };
    }

    @Override
    public String describe() {
        return "one-shot peer all-reduce up to " + 4 * limitFloats + " B, then " + nccl.describe();
    }

    @Override
    public synchronized void abort() {
        if (!aborted) {
            aborted = true;
            Cuda.writeHostInt(abortFlag, 1);
            nccl.abort();
        }
    }

    @Override
    public String unusableReason() {
        return aborted ? "the all-reduce group was aborted after a rank failed; reload the model" : null;
    }

    @Override
    public void beginStep() {
        if (aborted) {
            throw new IllegalStateException(unusableReason());
        }
    }

    /** Frees every device's buffers (from the calling thread, making each device current in turn). */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            for (int r = 0; r < devices.length; r++) {
                if (stage[r] != 0 || fusedStage[r] != 0 || flags[r] != 0 || counters[r] != 0 || tables[r] != 0) {
                    Cuda.init(devices[r]);
                    Cuda.free(stage[r]);
                    Cuda.free(fusedStage[r]);
                    Cuda.free(flags[r]);
                    Cuda.free(counters[r]);
                    Cuda.free(tables[r]);
                }
            }
            Cuda.freeHost(abortFlag);
        } finally {
            if (nccl != null) {
                nccl.close();
            }
        }
    }

    @Override
    public String toString() {
        return describe() + " " + Arrays.toString(devices);
    }
}
