package dev.llmplatform.gateway.routing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llmplatform.gateway.config.GatewayProperties;
import dev.llmplatform.gateway.fleet.Instance;
import dev.llmplatform.gateway.fleet.InstanceReport;
import java.net.URI;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class BalancerTest {
    static Instance instance(int port, double waiting, double kv) {
        Instance i = new Instance(URI.create("http://10.0.0.1:" + port), "static");
        i.pollSucceeded(new InstanceReport("m", null, waiting, 0, kv));
        return i;
    }

    static Balancer balancer(GatewayProperties.Strategy s) {
        return new Balancer(new GatewayProperties.Balancer(s, 4.0, 64, 2));
    }

    @Test
    void leastOutstandingPrefersTheInstanceWithLessQueuedAndInFlightWork() {
        Instance busy = instance(1, 3, 0);
        Instance idle = instance(2, 0, 0);
        Instance fullKv = instance(3, 0, 1.0);
        Balancer b = balancer(GatewayProperties.Strategy.LEAST_OUTSTANDING);
        for (int k = 0; k < 10; k++) {
            assertThat(b.pick(List.of(busy, idle, fullKv), null)).isSameAs(idle);
        }
        idle.acquire();
        idle.acquire();
        idle.acquire();
        idle.acquire();
        assertThat(b.pick(List.of(busy, idle, fullKv), null)).isSameAs(busy);
    }

    @Test
    void equallyLoadedInstancesShareTheWork() {
        List<Instance> all = List.of(instance(1, 0, 0), instance(2, 0, 0), instance(3, 0, 0));
        Balancer b = balancer(GatewayProperties.Strategy.LEAST_OUTSTANDING);
        Set<Instance> used = new HashSet<>();
        for (int k = 0; k < 3; k++) {
            used.add(b.pick(all, null));
        }
        assertThat(used).hasSize(3);
    }

    @Test
    void prefixAffinitySendsTheSamePromptStartToTheSameInstanceUnlessItIsBusier() {
        List<Instance> all = List.of(instance(1, 0, 0), instance(2, 0, 0), instance(3, 0, 0), instance(4, 0, 0));
        Balancer b = balancer(GatewayProperties.Strategy.PREFIX_AFFINITY);
        Instance first = b.pick(all, "You are a helpful assistant. Question 1");
        for (int k = 0; k < 10; k++) {
            assertThat(b.pick(all, "You are a helpful assistant. Question 1")).isSameAs(first);
        }
        Set<Instance> spread = new HashSet<>();
        for (int k = 0; k < 40; k++) {
            spread.add(b.pick(all, "system prompt number " + k));
        }
        assertThat(spread).hasSize(4);
        // Busier than the least busy by more than the slack (2): load wins over affinity.
        first.acquire();
        first.acquire();
        first.acquire();
        assertThat(b.pick(all, "You are a helpful assistant. Question 1")).isNotSameAs(first);
    }

    @Test
    void roundRobinTakesTurns() {
        List<Instance> all = List.of(instance(1, 9, 0), instance(2, 0, 0));
        Balancer b = balancer(GatewayProperties.Strategy.ROUND_ROBIN);
        assertThat(List.of(b.pick(all, null), b.pick(all, null), b.pick(all, null), b.pick(all, null)))
                .containsExactly(all.get(0), all.get(1), all.get(0), all.get(1));
    }
}
