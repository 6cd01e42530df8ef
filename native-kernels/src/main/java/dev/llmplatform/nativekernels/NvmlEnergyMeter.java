package dev.llmplatform.nativekernels;

import static org.bytedeco.cuda.global.cudart.cudaDeviceGetPCIBusId;
import static org.bytedeco.cuda.global.cudart.cudaSuccess;
import static org.bytedeco.cuda.global.nvml.*;

import dev.llmplatform.engine.runtime.EnergyMeter;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.bytedeco.cuda.nvml.nvmlDevice_st;
import org.bytedeco.javacpp.BytePointer;

/**
 * A GPU's total energy counter through NVML ({@code nvmlDeviceGetTotalEnergyConsumption}, millijoules since the
 * driver loaded), as JavaCPP's CUDA presets bind it. The NVML device is found by the CUDA device's PCI bus id, since
 * CUDA and NVML may number devices differently.
 *
 * <p>Reading the counter is slow (3.4 ms a read on the H100 machine, 2026-11-25), far too slow for twice per engine
 * step. So {@link #joules()}, which the runtime calls around every step, answers from a background thread that reads
 * the counter every {@link #SAMPLE_MILLIS} ms: the last reading plus the power between the last two readings times
 * the time since (at most two periods ahead), never less than its previous answer. Over many steps the sums follow
 * the counter to within one period's energy; {@link #counterJoules()} reads the counter itself (for benchmarks that
 * read it twice around seconds of work).
 */
public final class NvmlEnergyMeter implements EnergyMeter {
    static final long SAMPLE_MILLIS = 20;
    private static Boolean initialized;
    private static final java.util.Map<Integer, Optional<NvmlEnergyMeter>> BY_DEVICE = new java.util.HashMap<>();

    private final nvmlDevice_st device;
    private final String description;
    private final long[] millijoules = new long[1];
    // The sampler's last two readings (nanoTime, joules), and the last answer of joules(); guarded by this.
    private long sampleNanos, previousNanos;
    private double sample = Double.NaN, previous = Double.NaN, answered;
    private Thread sampler;

    private NvmlEnergyMeter(nvmlDevice_st device, String description) {
        this.device = device;
        this.description = description;
    }

    /**
     * The meter of CUDA device {@code cudaDevice}, or empty where NVML does not load (no driver), knows no such device,
     * or cannot read its energy counter (GPUs before Volta, some virtualised ones). Never throws.
     */
    public static synchronized Optional<NvmlEnergyMeter> forCudaDevice(int cudaDevice) {
        return BY_DEVICE.computeIfAbsent(cudaDevice, NvmlEnergyMeter::open);
    }

    private static Optional<NvmlEnergyMeter> open(int cudaDevice) {
        try {
            if (!init()) {
                return Optional.empty();
            }
            nvmlDevice_st dev = new nvmlDevice_st();
            byte[] bus = new byte[64];
            int rc = cudaDeviceGetPCIBusId(bus, bus.length, cudaDevice) == cudaSuccess
                    ? nvmlDeviceGetHandleByPciBusId_v2(new BytePointer(cString(bus)), dev)
                    : nvmlDeviceGetHandleByIndex_v2(cudaDevice, dev);
            if (rc != NVML_SUCCESS) {
                return Optional.empty();
            }
            byte[] name = new byte[96];
            String gpu = nvmlDeviceGetName(dev, name, name.length) == NVML_SUCCESS ? cString(name) : "GPU";
            NvmlEnergyMeter m = new NvmlEnergyMeter(dev, "NVML energy counter of CUDA device " + cudaDevice + " (" + gpu + ")");
            return Double.isNaN(m.counterJoules()) ? Optional.empty() : Optional.of(m);
        } catch (Throwable t) {
            return Optional.empty(); // the NVML library or its JNI binding does not load here
        }
    }

    private static synchronized boolean init() {
        if (initialized == null) {
            initialized = nvmlInit_v2() == NVML_SUCCESS;
        }
        return initialized;
    }

    private static String cString(byte[] b) {
        int n = 0;
        while (n < b.length && b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, StandardCharsets.US_ASCII);
    }

    /** The counter itself, in joules since the driver loaded (a slow call); NaN when this read fails. */
    public double counterJoules() {
        synchronized (millijoules) {
            return nvmlDeviceGetTotalEnergyConsumption(device, millijoules) == NVML_SUCCESS ? millijoules[0] / 1000.0 : Double.NaN;
        }
    }

    /** The counter as of now, estimated from the sampler's readings (see the class comment); cheap. */
    @Override
    public double joules() {
        synchronized (this) {
            if (sampler == null) {
                record(System.nanoTime(), counterJoules());
                sampler = Thread.ofPlatform().daemon().name("nvml-energy-sampler").start(this::sample);
            }
            if (Double.isNaN(sample)) {
                return Double.NaN;
            }
            double estimate = sample;
            if (!Double.isNaN(previous) && sampleNanos > previousNanos) {
                double watts = (sample - previous) / ((sampleNanos - previousNanos) / 1e9);
                long ahead = Math.min(System.nanoTime() - sampleNanos, 2 * SAMPLE_MILLIS * 1_000_000);
                estimate += watts * Math.max(0, ahead) / 1e9;
            }
            answered = Math.max(answered, estimate);
            return answered;
        }
    }

    private synchronized void record(long nanos, double joules) {
        if (!Double.isNaN(joules)) {
            previous = sample;
            previousNanos = sampleNanos;
            sample = joules;
            sampleNanos = nanos;
        }
    }

    private void sample() {
        while (true) {
            try {
                Thread.sleep(SAMPLE_MILLIS);
            } catch (InterruptedException e) {
                return;
            }
            long t = System.nanoTime();
            double j = counterJoules();
            record(t + (System.nanoTime() - t) / 2, j);
        }
    }

    @Override
    public String describe() {
        return description;
    }
}
