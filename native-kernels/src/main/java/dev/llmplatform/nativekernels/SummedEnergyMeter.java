package dev.llmplatform.nativekernels;

import dev.llmplatform.engine.runtime.EnergyMeter;
import java.util.List;
import java.util.stream.Collectors;

/** The energy of several devices as one counter (a model split over GPUs uses them all in every step). */
final class SummedEnergyMeter implements EnergyMeter {
    private final List<EnergyMeter> meters;

    SummedEnergyMeter(List<EnergyMeter> meters) {
        if (meters.isEmpty()) {
            throw new IllegalArgumentException("no meters to sum");
        }
        this.meters = List.copyOf(meters);
    }

    /** The sum of every counter; NaN when any of them cannot be read this time (a part would be a wrong total). */
    @Override
    public double joules() {
        double sum = 0;
        for (EnergyMeter m : meters) {
            sum += m.joules(); // NaN propagates
        }
        return sum;
    }

    @Override
    public String describe() {
        return meters.stream().map(EnergyMeter::describe).collect(Collectors.joining(" + "));
    }
}
