package dev.llmplatform.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.llmplatform.engine.registry.RegistryClient;
import dev.llmplatform.gateway.fleet.Fleet;
import dev.llmplatform.gateway.routing.Rollout;
import dev.llmplatform.gateway.routing.RolloutTable;
import dev.llmplatform.testsupport.ServiceProcess;
import dev.llmplatform.gateway.support.TestFleet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.core.publisher.Flux;

/**
 * Canary splits driven by a real model registry: instances serving kjv-demo version 1 (stable) and version 2; the
 * registry's rollout events move the split while the gateway runs. Which instance answered is read from the instances'
 * own request counters, not from the gateway.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class CanaryTest {
    @DynamicPropertySource
    static void fleet(DynamicPropertyRegistry r) {
        TestFleet f = TestFleet.get();
        String v1 = f.v1.baseUrl().toString();
        String v2 = f.v2.baseUrl().toString();
        String registry = f.registry.baseUrl().toString();
        r.add("llm.gateway.instances[0]", () -> v1);
        r.add("llm.gateway.instances[1]", () -> v2);
        r.add("llm.gateway.registry.url", () -> registry);
        r.add("llm.gateway.registry.reconnect-delay", () -> "200ms");
        r.add("llm.gateway.auth.required", () -> "false");
        r.add("llm.gateway.health.interval", () -> "500ms");
    }

    @LocalServerPort
    int port;

    @Autowired
    Fleet fleet;

    @Autowired
    RolloutTable rollouts;

    RegistryClient registry;
    WebClient web;

    @BeforeEach
    void awaitFleet() {
        registry = TestFleet.get().registryClient();
        web = WebClient.create("http://127.0.0.1:" + port);
        await().atMost(Duration.ofSeconds(30)).until(() -> fleet.serving(TestFleet.MODEL).stream()
                .filter(i -> i.healthy()).count() == 2);
        await().atMost(Duration.ofSeconds(10)).until(() -> rollouts.get(TestFleet.MODEL) != null);
    }

    @AfterEach
    void endCanary() throws Exception {
        if (registry.rollout(TestFleet.MODEL).canaryVersion() != null) {
            registry.rollback(TestFleet.MODEL, null);
        }
    }

    private static double served(ServiceProcess p) throws Exception {
        return p.metric("llm_requests_total", null);
    }

    /** Sends one short completion per user (8 at a time); returns how many each version's instance answered. */
    private int[] send(List<String> users) throws Exception {
        TestFleet f = TestFleet.get();
        double v1 = served(f.v1);
        double v2 = served(f.v2);
        Flux.fromIterable(users)
                .flatMap(user -> web.post().uri("/v1/completions").contentType(MediaType.APPLICATION_JSON)
                        .bodyValue(Map.of("model", TestFleet.MODEL, "prompt", "Blessed", "max_tokens", 1, "user", user))
                        .retrieve().toBodilessEntity(), 8)
                .doOnNext(r -> assertThat(r.getStatusCode().value()).isEqualTo(200))
                .blockLast(Duration.ofMinutes(2));
        return new int[] {(int) (served(f.v1) - v1), (int) (served(f.v2) - v2)};
    }

    private static List<String> users(String prefix, int n) {
        List<String> users = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            users.add(prefix + i);
        }
        return users;
    }

    private void awaitRollout(Integer canary, int percent) {
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            Rollout r = rollouts.get(TestFleet.MODEL);
            return r != null && java.util.Objects.equals(r.canaryVersion(), canary) && r.canaryPercent() == percent;
        });
    }

    @Test
    void theCanaryGetsItsShareStickyPerUserAndFollowsTheRegistry() throws Exception {
        awaitRollout(null, 0);
        assertThat(send(users("before-", 30))).containsExactly(30, 0);

        registry.startCanary(TestFleet.MODEL, 2, 30, null);
        awaitRollout(2, 30);
        int[] split = send(users("user-", 300));
        System.out.printf("canary at 30%%: v1 %d, v2 %d of 300%n", split[0], split[1]);
        // Binomial(300, 0.3): mean 90, standard deviation 7.9; +-3.8 sd.
        assertThat(split[0] + split[1]).isEqualTo(300);
        assertThat(split[1]).isBetween(60, 120);

        // Sticky: the same user always lands on the same version.
        for (String user : List.of("alice", "bob", "carol")) {
            int[] same = send(java.util.Collections.nCopies(10, user));
            assertThat(same).satisfiesAnyOf(s -> assertThat(s).containsExactly(10, 0),
                    s -> assertThat(s).containsExactly(0, 10));
        }

        // Raising the percent moves users from stable to canary only: those already on the canary stay.
        List<String> onCanary = new ArrayList<>();
        for (String user : users("probe-", 20)) {
            if (send(List.of(user))[1] == 1) {
                onCanary.add(user);
            }
        }
        registry.setCanaryPercent(TestFleet.MODEL, 80, null);
        awaitRollout(2, 80);
        assertThat(send(onCanary)).containsExactly(0, onCanary.size());
        split = send(users("user-", 300));
        System.out.printf("canary at 80%%: v1 %d, v2 %d of 300%n", split[0], split[1]);
        assertThat(split[1]).isBetween(210, 270);

        registry.rollback(TestFleet.MODEL, null);
        awaitRollout(null, 0);
        assertThat(send(users("after-", 30))).containsExactly(30, 0);
    }
}
