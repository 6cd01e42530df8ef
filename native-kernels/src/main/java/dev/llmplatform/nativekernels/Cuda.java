package dev.llmplatform.nativekernels;

import static org.bytedeco.cuda.global.cudart.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * The CUDA runtime and driver calls the backend uses, through JavaCPP's CUDA presets, with device memory as plain
 * {@code long} addresses. Every call's status is checked; a failure throws {@link CudaException} naming the call.
 */
public final class Cuda {
    private static volatile Boolean available;
    private static volatile String unavailableReason = "";

    private Cuda() {
    }

    /** A JavaCPP pointer at a raw address (device or host), no ownership. */
    public static final class Addr extends Pointer {
        public Addr(long address) {
            this.address = address;
        }
    }

    /** Thrown when a CUDA, driver or cuBLASLt call fails. */
    public static final class CudaException extends RuntimeException {
        public CudaException(String message) {
            super(message);
        }
    }

    /**
     * True when the CUDA libraries load and at least one GPU is visible. Never throws: a machine without the
     * driver or without a GPU answers false (tests use this in JUnit assumptions).
     */
    public static boolean available() {
        Boolean a = available;
        if (a == null) {
            synchronized (Cuda.class) {
                if (available == null) {
                    boolean ok;
                    try {
                        int[] count = new int[1];
                        int rc = cudaGetDeviceCount(count);
                        ok = rc == cudaSuccess && count[0] > 0;
                        if (!ok) {
                            unavailableReason = "cudaGetDeviceCount: " + (rc == cudaSuccess ? "no GPU" : errorName(rc));
                        }
                    } catch (Throwable t) {
                        ok = false;
                        unavailableReason = "CUDA libraries do not load: " + t;
                    }
                    available = ok;
                }
            }
            a = available;
        }
        return a;
    }

    public static String unavailableReason() {
        return unavailableReason;
    }

    static String errorName(int rc) {
        try {
            return cudaGetErrorName(rc).getString() + " (" + cudaGetErrorString(rc).getString() + ")";
        } catch (Throwable t) {
            return "error " + rc;
        }
    }

    public static void check(int rc, String what) {
        if (rc != cudaSuccess) {
            throw new CudaException(what + " failed: " + errorName(rc));
        }
    }

    static void checkDriver(int rc, String what) {
        if (rc != 0) {
            throw new CudaException(what + " failed: CUresult " + rc);
        }
    }

    public static void init(int device) {
        check(cudaSetDevice(device), "cudaSetDevice(" + device + ")");
        check(cudaFree(null), "cudaFree(null) (context creation)");
    }

    public static long malloc(long bytes) {
        Pointer p = new Pointer();
        check(cudaMalloc(p, Math.max(bytes, 1)), "cudaMalloc(" + bytes + " bytes)");
        return p.address();
    }

    public static long mallocHost(long bytes) {
        Pointer p = new Pointer();
        check(cudaMallocHost(p, Math.max(bytes, 1)), "cudaMallocHost(" + bytes + " bytes)");
        return p.address();
    }

    public static void free(long dev) {
        if (dev != 0) {
            check(cudaFree(new Addr(dev)), "cudaFree");
        }
    }

    public static void freeHost(long host) {
        if (host != 0) {
            check(cudaFreeHost(new Addr(host)), "cudaFreeHost");
        }
    }

    public static void copyToDevice(long dst, long hostSrc, long bytes, CUstream_st stream) {
        check(cudaMemcpyAsync(new Addr(dst), new Addr(hostSrc), bytes, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync H2D");
    }

    public static void copyToHost(long hostDst, long src, long bytes, CUstream_st stream) {
        check(cudaMemcpyAsync(new Addr(hostDst), new Addr(src), bytes, cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync D2H");
    }

    public static void copyDevice(long dst, long src, long bytes, CUstream_st stream) {
        check(cudaMemcpyAsync(new Addr(dst), new Addr(src), bytes, cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync D2D");
    }

    /** A copy between any two device addresses, also of different GPUs (unified addressing infers the direction). */
    public static void copyAny(long dst, long src, long bytes, CUstream_st stream) {
        check(cudaMemcpyAsync(new Addr(dst), new Addr(src), bytes, cudaMemcpyDefault, stream), "cudaMemcpyAsync (default kind)");
    }

    /** Lets the current device read and write {@code peer}'s memory directly (NVLink/PCIe) where it can. */
    public static void enablePeerAccess(int peer) {
        int[] can = new int[1];
        int[] current = new int[1];
        check(cudaGetDevice(current), "cudaGetDevice");
        if (peer == current[0]) {
            return;
        }
        check(cudaDeviceCanAccessPeer(can, current[0], peer), "cudaDeviceCanAccessPeer");
        if (can[0] != 0) {
            int rc = cudaDeviceEnablePeerAccess(peer, 0);
            if (rc == cudaErrorPeerAccessAlreadyEnabled) {
                cudaGetLastError(); // not an error: clear it from the thread's last-error slot
            } else {
                check(rc, "cudaDeviceEnablePeerAccess(" + peer + ")");
            }
        }
    }

    /** Whether {@code device} can load and store {@code peer}'s memory directly. */
    public static boolean canAccessPeer(int device, int peer) {
        int[] can = new int[1];
        check(cudaDeviceCanAccessPeer(can, device, peer), "cudaDeviceCanAccessPeer(" + device + ", " + peer + ")");
        return can[0] != 0;
    }

    /** A volatile store of an int into host memory (pinned memory that kernels poll). */
    public static void writeHostInt(long host, int value) {
        INT_HANDLE.setVolatile(MemorySegment.ofAddress(host).reinterpret(4), 0L, value);
    }

    private static final VarHandle INT_HANDLE = ValueLayout.JAVA_INT.varHandle();

    /** Zeroes device memory of the current device and waits for it. */
    public static void memsetSync(long dst, long bytes) {
        check(cudaMemset(new Addr(dst), 0, bytes), "cudaMemset");
        check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    }

    /** Copies host memory to the device and waits for it. */
    public static void copyToDeviceSync(long dst, long hostSrc, long bytes) {
        check(cudaMemcpy(new Addr(dst), new Addr(hostSrc), bytes, cudaMemcpyHostToDevice), "cudaMemcpy H2D");
    }

    /** An event for ordering streams (no timing). */
    public static CUevent_st newEvent() {
        CUevent_st e = new CUevent_st();
        check(cudaEventCreateWithFlags(e, cudaEventDisableTiming), "cudaEventCreateWithFlags");
        return e;
    }

    public static void record(CUevent_st e, CUstream_st stream) {
        check(cudaEventRecord(e, stream), "cudaEventRecord");
    }

    /** Work enqueued on {@code stream} from now on waits for the last {@link #record} of {@code e} (any device). */
    public static void waitEvent(CUstream_st stream, CUevent_st e) {
        check(cudaStreamWaitEvent(stream, e, 0), "cudaStreamWaitEvent");
    }

    public static void destroy(CUevent_st e) {
        if (e != null && !e.isNull()) {
            cudaEventDestroy(e);
        }
    }

    public static int deviceCount() {
        int[] count = new int[1];
        check(cudaGetDeviceCount(count), "cudaGetDeviceCount");
        return count[0];
    }

    public static void memset(long dst, long bytes, CUstream_st stream) {
        check(cudaMemsetAsync(new Addr(dst), 0, bytes, stream), "cudaMemsetAsync");
    }

    public static CUstream_st newStream() {
        CUstream_st s = new CUstream_st();
        check(cudaStreamCreate(s), "cudaStreamCreate");
        return s;
    }

    public static void sync(CUstream_st s) {
        check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
    }

    /** {free, total} device memory in bytes. */
    public static long[] memInfo() {
        SizeTPointer free = new SizeTPointer(1);
        SizeTPointer total = new SizeTPointer(1);
        check(cudaMemGetInfo(free, total), "cudaMemGetInfo");
        return new long[] {free.get(), total.get()};
    }

    public static String deviceName(int device) {
        org.bytedeco.cuda.cudart.cudaDeviceProp p = new org.bytedeco.cuda.cudart.cudaDeviceProp();
        check(cudaGetDeviceProperties(p, device), "cudaGetDeviceProperties");
        return p.name().getString() + " (sm_" + p.major() + p.minor() + ", " + p.multiProcessorCount() + " SMs)";
    }

    /** The current device's compute capability as major * 10 + minor (90 on an H100). */
    public static int computeCapability() {
        int[] device = new int[1], major = new int[1], minor = new int[1];
        check(cudaGetDevice(device), "cudaGetDevice");
        check(cudaDeviceGetAttribute(major, cudaDevAttrComputeCapabilityMajor, device[0]), "cudaDeviceGetAttribute(major)");
        check(cudaDeviceGetAttribute(minor, cudaDevAttrComputeCapabilityMinor, device[0]), "cudaDeviceGetAttribute(minor)");
        return major[0] * 10 + minor[0];
    }
}
