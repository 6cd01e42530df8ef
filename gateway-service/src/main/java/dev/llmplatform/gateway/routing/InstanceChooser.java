package dev.llmplatform.gateway.routing;

import dev.llmplatform.gateway.api.GatewayException;
import dev.llmplatform.gateway.config.GatewayProperties;
import dev.llmplatform.gateway.fleet.Fleet;
import dev.llmplatform.gateway.fleet.Instance;
import dev.llmplatform.gateway.fleet.InstanceBreakers;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.springframework.stereotype.Component;

/**
 * Chooses the instance for a request: among the healthy instances serving its model whose circuit lets calls through
 * (and that this request has not tried yet), those serving the version the rollout assigns to the caller (canary for
 * the callers inside its percent, stable for the rest), then the balancer's pick among them. When no instance serves
 * the assigned version the others serving the model take the request: a missing canary must not fail requests.
 */
@Component
public class InstanceChooser {
    private final Fleet fleet;
    private final RolloutTable rollouts;
    private final InstanceBreakers breakers;
    private final Balancer balancer;

    public InstanceChooser(Fleet fleet, RolloutTable rollouts, InstanceBreakers breakers, GatewayProperties props) {
        this.fleet = fleet;
        this.rollouts = rollouts;
        this.breakers = breakers;
        this.balancer = new Balancer(props.balancer());
    }

    /**
     * @param model         the requested model
     * @param stickyKey     who the caller is, for the canary split
     * @param leadingPrompt the prompt's start, for prefix affinity
     * @param tried         instances this request already failed on
     * @throws GatewayException 404 when no instance serves the model, 503 when none of them can take it now
     */
    public Instance choose(String model, String stickyKey, String leadingPrompt, Set<Instance> tried) {
        List<Instance> serving = fleet.serving(model);
        if (serving.isEmpty()) {
            throw GatewayException.modelNotFound(model);
        }
        List<Instance> available = new ArrayList<>(serving.size());
        for (Instance i : serving) {
            if (i.healthy() && !tried.contains(i) && isCallPermitted(i)) {
                available.add(i);
            }
        }
        if (available.isEmpty()) {
            throw GatewayException.noHealthyInstance(model);
        }
        Integer version = assignedVersion(model, stickyKey);
        if (version != null) {
            List<Instance> onVersion = new ArrayList<>(available.size());
            for (Instance i : available) {
                if (Objects.equals(i.report().registryVersion(), version)) {
                    onVersion.add(i);
                }
            }
            if (!onVersion.isEmpty()) {
                available = onVersion;
            }
        }
        return balancer.pick(available, leadingPrompt);
    }

    /** The circuit's state allows calls (closed or half-open); the permit itself is taken when the call starts. */
    private boolean isCallPermitted(Instance i) {
        return switch (breakers.of(i).getState()) {
            case CLOSED, HALF_OPEN, DISABLED, METRICS_ONLY -> true;
            case OPEN, FORCED_OPEN -> false;
        };
    }

    /** The version the caller's requests for {@code model} should reach, or null when the registry says nothing. */
    Integer assignedVersion(String model, String stickyKey) {
        Rollout r = rollouts.get(model);
        if (r == null) {
            return null;
        }
        if (r.canaryVersion() != null && CanarySplit.inCanary(stickyKey, r.canaryPercent())) {
            return r.canaryVersion();
        }
        return r.stableVersion();
    }

    public GatewayProperties.Strategy strategy() {
        return balancer.strategy();
    }
}
