package dev.llmplatform.gateway.fleet;

import dev.llmplatform.gateway.config.GatewayProperties;
import dev.llmplatform.gateway.metrics.GatewayMetrics;
import io.netty.channel.ChannelOption;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.cloud.client.ServiceInstance;
import org.springframework.cloud.client.discovery.DiscoveryClient;
import org.springframework.context.SmartLifecycle;
import org.springframework.http.client.reactive.ReactorClientHttpConnector;
import org.springframework.stereotype.Component;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.netty.http.client.HttpClient;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The inference instances the gateway knows: the configured ones and, when enabled, those the {@link DiscoveryClient}
 * lists for the configured service ids. Every {@code llm.gateway.health.interval} each is polled for readiness, what
 * it serves ({@code /actuator/info}: model name, and the registry version in {@code model.registry.version}) and its load
 * ({@code /actuator/prometheus}). An instance enters rotation at its first good poll and leaves it after
 * {@code unhealthy-after} failed ones; discovered instances that disappear from discovery are forgotten.
 */
@Component
public class Fleet implements SmartLifecycle {
    private static final Logger log = LoggerFactory.getLogger(Fleet.class);
    private static final Set<String> GAUGES = Set.of("llm_num_requests_waiting", "llm_num_requests_running",
            "llm_kv_cache_usage_ratio");

    private final GatewayProperties.Health health;
    private final List<URI> configured;
    private final GatewayProperties.Discovery discovery;
    private final ObjectProvider<DiscoveryClient> discoveryClient;
    private final WebClient http;
    private final JsonMapper json = JsonMapper.builder().build();
    private final Map<String, Instance> instances = new ConcurrentHashMap<>();
    private final GatewayMetrics metrics;
    private volatile Disposable polling;

    public Fleet(GatewayProperties props, ObjectProvider<DiscoveryClient> discoveryClient, GatewayMetrics metrics) {
        this.metrics = metrics;
        this.health = props.health();
        this.configured = props.instances();
        this.discovery = props.discovery();
        this.discoveryClient = discoveryClient;
        HttpClient client = HttpClient.create()
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) health.timeout().toMillis())
                .responseTimeout(health.timeout());
        this.http = WebClient.builder().clientConnector(new ReactorClientHttpConnector(client))
                .codecs(c -> c.defaultCodecs().maxInMemorySize(4 * 1024 * 1024)).build();
        for (URI u : configured) {
            add(new Instance(u, "static"));
        }
    }

    private void add(Instance i) {
        if (instances.putIfAbsent(i.id(), i) == null) {
            metrics.instanceAdded(i);
        }
    }

    /** Every known instance, in rotation or not. */
    public Collection<Instance> all() {
        return instances.values();
    }

    /** Known instances that serve {@code model} (healthy or not). */
    public List<Instance> serving(String model) {
        List<Instance> out = new ArrayList<>();
        for (Instance i : instances.values()) {
            if (i.serves(model)) {
                out.add(i);
            }
        }
        return out;
    }

    /** The models at least one instance in rotation serves, sorted. */
    public Set<String> models() {
        Set<String> models = new TreeSet<>();
        for (Instance i : instances.values()) {
            if (i.healthy() && i.report() != null) {
                models.add(i.report().model());
            }
        }
        return models;
    }

    /** Polls every instance once (also what the schedule does); completes when all answered or timed out. */
    public Mono<Void> pollNow() {
        return refreshMembership()
                .thenMany(Flux.fromIterable(List.copyOf(instances.values())))
                .flatMap(this::poll)
                .then();
    }

    private Mono<Void> refreshMembership() {
        if (!discovery.enabled() || discovery.serviceIds().isEmpty()) {
            return Mono.empty();
        }
        DiscoveryClient client = discoveryClient.getIfAvailable();
        if (client == null) {
            return Mono.empty();
        }
        return Mono.fromRunnable(() -> {
            Map<String, Instance> found = new LinkedHashMap<>();
            for (String service : discovery.serviceIds()) {
                for (ServiceInstance si : client.getInstances(service)) {
                    Instance i = new Instance(si.getUri(), "discovery:" + service);
                    found.put(i.id(), i);
                }
            }
            found.values().forEach(i -> {
                if (!instances.containsKey(i.id())) {
                    add(i);
                }
            });
            instances.values().removeIf(i -> i.origin().startsWith("discovery:") && !found.containsKey(i.id()));
        }).subscribeOn(Schedulers.boundedElastic()).onErrorResume(e -> {
            log.warn("Discovery failed; keeping the instances known so far: {}", e.toString());
            return Mono.empty();
        }).then();
    }

    private Mono<Void> poll(Instance instance) {
        String base = instance.baseUrl().toString();
        Mono<Boolean> ready = http.get().uri(base + "/actuator/health/readiness").exchangeToMono(r ->
                r.releaseBody().thenReturn(r.statusCode().is2xxSuccessful()));
        Mono<String> info = http.get().uri(base + "/actuator/info").retrieve().bodyToMono(String.class);
        Mono<String> metrics = http.get().uri(base + "/actuator/prometheus").retrieve().bodyToMono(String.class);
        return Mono.zip(ready, info, metrics)
                .timeout(health.timeout())
                .map(t -> {
                    if (!t.getT1()) {
                        throw new IllegalStateException("not ready");
                    }
                    return report(t.getT2(), t.getT3());
                })
                .doOnNext(report -> {
                    boolean wasHealthy = instance.healthy();
                    instance.pollSucceeded(report);
                    if (!wasHealthy) {
                        log.info("Instance {} in rotation: serves {} (registry version {})", instance,
                                report.model(), report.registryVersion());
                    }
                })
                .onErrorResume(e -> {
                    boolean wasHealthy = instance.healthy();
                    boolean firstPoll = instance.report() == null && !wasHealthy;
                    if (!instance.pollFailed(health.unhealthyAfter()) && wasHealthy) {
                        log.warn("Instance {} out of rotation: {}", instance, e.toString());
                    } else if (firstPoll) {
                        log.debug("Instance {} not in rotation yet: {}", instance, e.toString());
                    }
                    return Mono.empty();
                })
                .then();
    }

    InstanceReport report(String infoJson, String prometheus) {
        JsonNode model = json.readTree(infoJson).path("model");
        String name = model.path("name").asString(null);
        if (name == null || name.isBlank()) {
            throw new IllegalStateException("/actuator/info names no model");
        }
        // model.registry.version: present when the instance pulled its model from the registry.
        JsonNode registryVersion = model.path("registry").path("version");
        Integer version = registryVersion.isIntegralNumber() ? registryVersion.asInt() : null;
        Map<String, Double> g = PrometheusGauges.read(prometheus, GAUGES);
        return new InstanceReport(name, version, g.getOrDefault("llm_num_requests_waiting", 0.0),
                g.getOrDefault("llm_num_requests_running", 0.0), g.getOrDefault("llm_kv_cache_usage_ratio", 0.0));
    }

    @Override
    public void start() {
        polling = Flux.interval(Duration.ZERO, health.interval())
                .onBackpressureDrop()
                .concatMap(tick -> pollNow(), 1)
                .subscribe();
    }

    @Override
    public void stop() {
        Disposable p = polling;
        if (p != null) {
            p.dispose();
        }
        polling = null;
    }

    @Override
    public boolean isRunning() {
        return polling != null;
    }
}
