package dev.llmplatform.engine.runtime;

/**
 * What the runtime's {@link EnergyMeter} measured over the forward passes since the runtime started.
 *
 * @param joules          energy used during forward passes (the device's counter, before to after each step)
 * @param seconds         wall time of those forward passes (the device's busy time as the runtime sees it)
 * @param tokens          tokens computed in them (prompt and generated positions, recomputation included)
 * @param generatedTokens tokens sampled from them (what requests got back)
 * @param meter           the meter's description
 */
public record EnergyStats(double joules, double seconds, long tokens, long generatedTokens, String meter) {

    /** Generated tokens per joule; NaN before any energy was measured. */
    public double generatedTokensPerJoule() {
        return joules > 0 ? generatedTokens / joules : Double.NaN;
    }

    /** Mean power during forward passes, in watts; NaN before any time was measured. */
    public double watts() {
        return seconds > 0 ? joules / seconds : Double.NaN;
    }

    /**
     * What a million generated tokens cost in device time at {@code pricePerHour} for the device (busy time only,
     * so an idle server's hours are not charged to its tokens); NaN before any token was generated.
     */
    public double costPerMillionTokens(double pricePerHour) {
        return generatedTokens > 0 ? pricePerHour * seconds / 3600.0 / generatedTokens * 1e6 : Double.NaN;
    }
}
