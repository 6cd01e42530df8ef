package dev.llmplatform.engine.runtime;

/**
 * A device's cumulative energy counter (NVML's total energy on a GPU), which the runtime reads before and after
 * every forward pass to charge the step's energy to the sequences in it by their tokens.
 *
 * <p>Implementations must be cheap to read (the runtime reads twice per step) and safe to read from the runtime's
 * thread. A counter may advance in coarse increments (a GPU's is refreshed every few milliseconds): single steps
 * then see zero or a burst, but the totals, and the sums over many steps, are right.
 */
public interface EnergyMeter {

    /**
     * Energy the device has used since a fixed point in the past (driver load), in joules; never decreases.
     * NaN when the counter cannot be read this time (the runtime then charges the step nothing).
     */
    double joules();

    /** What is measured, for logs and metrics descriptions (e.g. "NVML GPU 0 (NVIDIA H100 80GB HBM3)"). */
    String describe();
}
