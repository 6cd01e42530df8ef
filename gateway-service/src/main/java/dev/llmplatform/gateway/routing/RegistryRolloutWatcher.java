package dev.llmplatform.gateway.routing;

import dev.llmplatform.gateway.config.GatewayProperties;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.stereotype.Component;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.util.retry.Retry;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Keeps {@link RolloutTable} in step with the model registry: lists {@code /v1/registry/rollouts}, then follows
 * {@code /v1/registry/rollouts/events} from the listed {@code last_event_id}; when the stream breaks or ends it waits
 * {@code reconnect-delay} and starts over (list, then follow), so nothing is missed and no restart is needed.
 * Does nothing without {@code llm.gateway.registry.url}.
 */
@Component
public class RegistryRolloutWatcher implements SmartLifecycle {
    private static final Logger log = LoggerFactory.getLogger(RegistryRolloutWatcher.class);
    private static final ParameterizedTypeReference<ServerSentEvent<String>> SSE = new ParameterizedTypeReference<>() {
    };

    private final GatewayProperties.Registry config;
    private final RolloutTable table;
    private final WebClient http;
    private final JsonMapper json = JsonMapper.builder().build();
    private final AtomicLong lastEventId = new AtomicLong(-1);
    private volatile Instant lastContact;
    private volatile Disposable watching;

    public RegistryRolloutWatcher(GatewayProperties props, RolloutTable table) {
        this.config = props.registry();
        this.table = table;
        WebClient.Builder b = WebClient.builder();
        if (config.url() != null) {
            b.baseUrl(config.url().toString());
        }
        if (config.token() != null && !config.token().isBlank()) {
            b.defaultHeader(HttpHeaders.AUTHORIZATION, "Bearer " + config.token());
        }
        this.http = b.build();
    }

    public boolean enabled() {
        return config.url() != null;
    }

    public URI url() {
        return config.url();
    }

    /** When the registry last answered (a list or an event), or null. */
    public Instant lastContact() {
        return lastContact;
    }

    /** The id of the last event applied (-1 before the first list). */
    public long lastEventId() {
        return lastEventId.get();
    }

    private Mono<Long> list() {
        return http.get().uri("/v1/registry/rollouts").retrieve().bodyToMono(String.class).map(body -> {
            JsonNode root = json.readTree(body);
            for (JsonNode r : root.path("rollouts")) {
                table.update(rollout(r.path("model").asString(), r, r.path("revision").asLong()));
            }
            long last = root.path("last_event_id").asLong(0);
            lastEventId.set(last);
            lastContact = Instant.now();
            return last;
        });
    }

    private Flux<Void> follow(long after) {
        return http.get().uri("/v1/registry/rollouts/events?after={after}", after)
                .accept(MediaType.TEXT_EVENT_STREAM)
                .retrieve()
                .bodyToFlux(SSE)
                .doOnNext(event -> {
                    lastContact = Instant.now();
                    if (event.data() == null || !"rollout".equals(event.event())) {
                        return;
                    }
                    JsonNode change = json.readTree(event.data());
                    Rollout r = rollout(change.path("model").asString(), change.path("to"),
                            change.path("revision").asLong());
                    table.update(r);
                    if (event.id() != null) {
                        lastEventId.set(Long.parseLong(event.id()));
                    }
                    log.info("Rollout of {}: stable {}, canary {} at {}% (revision {})", r.model(), r.stableVersion(),
                            r.canaryVersion(), r.canaryPercent(), r.revision());
                })
                .thenMany(Flux.empty());
    }

    private static Rollout rollout(String model, JsonNode state, long revision) {
        return new Rollout(model, version(state.get("stable_version")), version(state.get("canary_version")),
                state.path("canary_percent").asInt(0), revision);
    }

    private static Integer version(JsonNode n) {
        return n == null || n.isNull() ? null : n.asInt();
    }

    @Override
    public void start() {
        if (!enabled()) {
            return;
        }
        Duration delay = config.reconnectDelay();
        watching = Mono.defer(this::list)
                .flatMapMany(this::follow)
                .doOnError(e -> log.warn("Rollout watch of {} broke ({}); again in {}", config.url(), e.toString(), delay))
                .retryWhen(Retry.fixedDelay(Long.MAX_VALUE, delay))
                .repeatWhen(done -> done.delayElements(delay))
                .subscribe();
    }

    @Override
    public void stop() {
        Disposable w = watching;
        if (w != null) {
            w.dispose();
        }
        watching = null;
    }

    @Override
    public boolean isRunning() {
        return watching != null;
    }
}
