package dev.llmplatform.engine.runtime;

import java.util.Optional;

/**
 * A model runner that can meter the energy of the device it computes on. {@link EngineRuntime} asks for the meter
 * when it starts, so a service that embeds such a runner gets energy accounting without wiring a meter itself.
 */
public interface EnergyMetered {

    /** The meter of this runner's device, or empty when no counter can be read there. */
    Optional<EnergyMeter> energyMeter();
}
