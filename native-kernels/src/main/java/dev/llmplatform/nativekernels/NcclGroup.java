package dev.llmplatform.nativekernels;

import static org.bytedeco.cuda.global.nccl.*;

import java.util.Arrays;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.nccl.ncclComm;
import org.bytedeco.javacpp.PointerPointer;

/**
 * NCCL all-reduce between the GPUs of this process: one communicator per device, made together by
 * {@code ncclCommInitAll} (one process driving several devices), each used only by its rank's thread; sums of f32
 * buffers in place on the rank's stream. NCCL's collectives can be captured into CUDA graphs, so ranks keep their
 * decode graphs (all ranks replay theirs in the same step, as they run every step together).
 *
 * <p>NVLink multicast (NVLS) must be off: on shared multi-GPU hosts a program that creates multicast objects can
 * take every GPU of the host out of service, so the group refuses to start unless {@code NCCL_NVLS_ENABLE=0} is in
 * the environment (NCCL reads it; a JVM cannot set it for itself).
 *
 * <p>After {@link #abort} (a rank failed mid-step, see {@link GpuRankThreads}) the communicators are gone, and so
 * is the group: later steps throw.
 */
final class NcclGroup implements ReduceGroup {
    private final int[] devices;
    private final ncclComm[] comms;
    private volatile boolean aborted;
    private Thread[] aborters = new Thread[0];
    private boolean closed;

    /** Why NCCL cannot be used here, or null when it can. */
    static String unavailableReason(int[] devices) {
        if (!"0".equals(System.getenv("NCCL_NVLS_ENABLE"))) {
            return "NCCL_NVLS_ENABLE=0 is not set (NVLink multicast must stay off)";
        }
        if (Arrays.stream(devices).distinct().count() != devices.length) {
            return "NCCL needs one device per rank, got devices " + Arrays.toString(devices);
        }
        try {
            int[] version = new int[1];
            int rc = ncclGetVersion(version);
            return rc == ncclSuccess ? null : "ncclGetVersion: " + rc;
        } catch (Throwable t) {
            return "the NCCL library does not load (libnccl.so.2 on LD_LIBRARY_PATH?): " + t;
        }
    }

    static int version() {
        int[] version = new int[1];
        check(ncclGetVersion(version), "ncclGetVersion");
        return version[0];
    }

    NcclGroup(int[] devices) {
        String why = unavailableReason(devices);
        if (why != null) {
            throw new IllegalStateException("NCCL all-reduce unavailable: " + why);
        }
        this.devices = devices.clone();
        PointerPointer<ncclComm> out = new PointerPointer<>(devices.length);
        check(ncclCommInitAll(out, devices.length, this.devices), "ncclCommInitAll" + Arrays.toString(devices));
        comms = new ncclComm[devices.length];
        for (int r = 0; r < devices.length; r++) {
            comms[r] = new ncclComm(out.get(r));
        }
    }

    private static void check(int rc, String what) {
        if (rc != ncclSuccess) {
            throw new Cuda.CudaException(what + " failed: " + ncclGetErrorString(rc).getString());
        }
    }

    @Override
    public Rank rank(int r) {
        return new Rank() {
            private CUstream_st stream;

            @Override
            public void bind(CUstream_st s, KernelModule kernels) {
                stream = s;
            }

            @Override
            public void sum(long buf, long floats) {
                if (aborted) {
                    throw new PeerFailedException();
                }
                check(ncclAllReduce(new Cuda.Addr(buf), new Cuda.Addr(buf), floats, ncclFloat32, ncclSum, comms[r], stream),
                        "ncclAllReduce (rank " + r + ", " + floats + " floats)");
            }

            @Override
            public boolean capturable() {
                return true;
            }
        };
    }

    @Override
    public String describe() {
        int v = version();
        return "NCCL " + v / 10000 + "." + v / 100 % 100 + "." + v % 100 + " over devices " + Arrays.toString(devices);
    }

    /**
     * Aborts every communicator, each from a thread of its own, and returns at once. Why threads: the communicators
     * of one process form one clique, and an abort waits for the clique's other members to be aborted too (on the
     * H100 pair, 2026-11-25, aborting them one after the other from one thread had not returned after 90 s, although
     * the abort flag had released the waiting rank within 0.03 s; this version, one thread per communicator, has not
     * run on the GPUs yet). Why return at once: the caller is a rank thread whose step must end so that the failure
     * surfaces.
     */
    @Override
    public synchronized void abort() {
        if (!aborted) {
            aborted = true;
            aborters = new Thread[comms.length];
            for (int r = 0; r < comms.length; r++) {
                ncclComm c = comms[r];
                aborters[r] = Thread.ofPlatform().daemon().name("nccl-abort-" + r).start(() -> ncclCommAbort(c));
            }
        }
    }

    @Override
    public String unusableReason() {
        return aborted ? "the NCCL communicators were aborted after a rank failed; reload the model" : null;
    }

    @Override
    public void beginStep() {
        if (aborted) {
            throw new IllegalStateException("the NCCL communicators were aborted after a rank failed; reload the model");
        }
    }

    /** Destroys the communicators, or after an abort waits (at most 10 s each) for the aborts to finish. */
    @Override
    public synchronized void close() {
        if (!closed && !aborted) {
            for (ncclComm c : comms) {
                ncclCommDestroy(c);
            }
        }
        for (Thread t : aborters) {
            try {
                t.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        closed = true;
    }
}
