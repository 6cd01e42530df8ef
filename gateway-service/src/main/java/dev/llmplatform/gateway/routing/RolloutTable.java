package dev.llmplatform.gateway.routing;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.springframework.stereotype.Component;

/** The latest known rollout of each model (what the registry watcher last saw). */
@Component
public class RolloutTable {
    private final Map<String, Rollout> rollouts = new ConcurrentHashMap<>();

    public Rollout get(String model) {
        return rollouts.get(model);
    }

    public Map<String, Rollout> all() {
        return Map.copyOf(rollouts);
    }

    /** Takes {@code r} unless a newer revision of the same model is already known. */
    public void update(Rollout r) {
        rollouts.merge(r.model(), r, (old, neu) -> neu.revision() >= old.revision() ? neu : old);
    }
}
