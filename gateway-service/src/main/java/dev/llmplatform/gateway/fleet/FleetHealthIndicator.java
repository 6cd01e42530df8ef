package dev.llmplatform.gateway.fleet;

import dev.llmplatform.gateway.routing.RegistryRolloutWatcher;
import dev.llmplatform.gateway.routing.RolloutTable;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.stereotype.Component;

/**
 * {@code fleet} in {@code /actuator/health}: every instance (model, registry version, in rotation, in-flight requests,
 * reported queue and KV use, circuit state) and the rollouts the registry watcher knows. Always UP: a gateway with
 * no healthy instance still answers (503 per model), and restarting it would not help.
 */
@Component
public class FleetHealthIndicator implements HealthIndicator {
    private final Fleet fleet;
    private final InstanceBreakers breakers;
    private final RolloutTable rollouts;
    private final RegistryRolloutWatcher watcher;

    public FleetHealthIndicator(Fleet fleet, InstanceBreakers breakers, RolloutTable rollouts,
                                RegistryRolloutWatcher watcher) {
        this.fleet = fleet;
        this.breakers = breakers;
        this.rollouts = rollouts;
        this.watcher = watcher;
    }

    @Override
    public Health health() {
        Map<String, Object> instances = new TreeMap<>();
        for (Instance i : fleet.all()) {
            Map<String, Object> d = new LinkedHashMap<>();
            InstanceReport r = i.report();
            d.put("url", i.baseUrl().toString());
            d.put("origin", i.origin());
            d.put("inRotation", i.healthy());
            d.put("circuit", breakers.of(i).getState().name());
            d.put("inFlight", i.inFlight());
            if (r != null) {
                d.put("model", r.model());
                d.put("registryVersion", r.registryVersion());
                d.put("waiting", r.waiting());
                d.put("running", r.running());
                d.put("kvCacheUsage", r.kvCacheUsage());
            }
            instances.put(i.id(), d);
        }
        Health.Builder h = Health.up().withDetail("instances", instances).withDetail("rollouts", rollouts.all());
        if (watcher.enabled()) {
            h.withDetail("registry", Map.of("url", watcher.url().toString(), "lastEventId", watcher.lastEventId(),
                    "lastContact", String.valueOf(watcher.lastContact())));
        }
        return h.build();
    }
}
