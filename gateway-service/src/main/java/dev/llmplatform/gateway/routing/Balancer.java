package dev.llmplatform.gateway.routing;

import dev.llmplatform.gateway.config.GatewayProperties;
import dev.llmplatform.gateway.fleet.Instance;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Picks one instance among candidates that all serve the wanted model version.
 * <ul>
 * <li>least-outstanding: the smallest {@link Instance#load}; ties go round in turn, so idle instances share work
 * <li>round-robin: in turn, ignoring load
 * <li>prefix-affinity: the instance the prompt's leading characters hash to (rendezvous hashing: adding or removing
 * an instance moves only its own share of prefixes), unless it has more than {@code affinity-slack} more outstanding
 * requests than the least busy one; then least-outstanding
 * </ul>
 */
public final class Balancer {
    private final GatewayProperties.Balancer config;
    private final AtomicLong turn = new AtomicLong();

    public Balancer(GatewayProperties.Balancer config) {
        this.config = config;
    }

    public GatewayProperties.Strategy strategy() {
        return config.strategy();
    }

    public Instance pick(List<Instance> candidates, String leadingPrompt) {
        if (candidates.size() == 1) {
            return candidates.getFirst();
        }
        return switch (config.strategy()) {
            case ROUND_ROBIN -> candidates.get((int) Long.remainderUnsigned(turn.getAndIncrement(), candidates.size()));
            case LEAST_OUTSTANDING -> leastLoaded(candidates);
            case PREFIX_AFFINITY -> byPrefix(candidates, leadingPrompt);
        };
    }

    private Instance leastLoaded(List<Instance> candidates) {
        int n = candidates.size();
        int start = (int) Long.remainderUnsigned(turn.getAndIncrement(), n);
        Instance best = null;
        double bestLoad = Double.MAX_VALUE;
        for (int k = 0; k < n; k++) {
            Instance i = candidates.get((start + k) % n);
            double load = i.load(config.kvCacheWeight());
            if (load < bestLoad) {
                best = i;
                bestLoad = load;
            }
        }
        return best;
    }

    private Instance byPrefix(List<Instance> candidates, String leadingPrompt) {
        if (leadingPrompt == null || leadingPrompt.isEmpty()) {
            return leastLoaded(candidates);
        }
        byte[] prefix = leadingPrompt.getBytes(StandardCharsets.UTF_8);
        Instance preferred = null;
        long bestWeight = Long.MIN_VALUE;
        double minLoad = Double.MAX_VALUE;
        for (Instance i : candidates) {
            long w = rendezvousWeight(prefix, i.id());
            if (w > bestWeight) {
                bestWeight = w;
                preferred = i;
            }
            minLoad = Math.min(minLoad, i.load(config.kvCacheWeight()));
        }
        if (preferred.load(config.kvCacheWeight()) - minLoad > config.affinitySlack()) {
            return leastLoaded(candidates);
        }
        return preferred;
    }

    private static long rendezvousWeight(byte[] prefix, String instanceId) {
        long h = 0xcbf29ce484222325L;
        for (byte b : prefix) {
            h = (h ^ (b & 0xff)) * 0x100000001b3L;
        }
        for (int k = 0; k < instanceId.length(); k++) {
            h = (h ^ instanceId.charAt(k)) * 0x100000001b3L;
        }
        h = (h ^ (h >>> 30)) * 0xbf58476d1ce4e5b9L;
        h = (h ^ (h >>> 27)) * 0x94d049bb133111ebL;
        return h ^ (h >>> 31);
    }
}
