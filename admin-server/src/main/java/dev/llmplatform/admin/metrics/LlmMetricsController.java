package dev.llmplatform.admin.metrics;

import de.codecentric.boot.admin.server.domain.entities.Instance;
import de.codecentric.boot.admin.server.domain.entities.InstanceRepository;
import de.codecentric.boot.admin.server.web.client.InstanceWebClient;
import dev.llmplatform.admin.config.AdminProperties;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import reactor.core.publisher.Mono;

/**
 * The LLM metrics view's data: {@code GET /fleet/api/llm-metrics} scrapes {@code /actuator/prometheus} of every
 * registered instance that exposes it (through Spring Boot Admin's own instance client, so instance credentials and
 * timeouts configured for SBA apply) and keeps the series whose names start with one of
 * {@code llm.admin.llm-metrics.prefixes}. Histogram buckets are left out (their count and sum stay): the view shows
 * current values, not distributions. An instance that cannot be scraped is listed with the reason.
 */
@RestController
class LlmMetricsController {
    private static final MediaType PROMETHEUS_TEXT = MediaType.parseMediaType("text/plain;version=0.0.4");

    private final InstanceRepository instances;
    private final InstanceWebClient client;
    private final List<String> prefixes;
    private final Duration timeout;

    LlmMetricsController(InstanceRepository instances, InstanceWebClient.Builder clientBuilder, AdminProperties properties) {
        this.instances = instances;
        this.client = clientBuilder.build();
        this.prefixes = properties.llmMetrics().prefixes();
        this.timeout = properties.llmMetrics().timeout();
    }

    /** One instance's metrics, or why there are none ({@code error}). */
    record InstanceMetrics(String application, String instanceId, String url, String status, String error,
                           List<PrometheusText.Sample> samples) {
    }

    record FleetMetrics(List<String> prefixes, List<InstanceMetrics> instances) {
    }

    @GetMapping(path = "/fleet/api/llm-metrics", produces = MediaType.APPLICATION_JSON_VALUE)
    Mono<FleetMetrics> llmMetrics() {
        return instances.findAll()
                .filter(Instance::isRegistered)
                .flatMap(this::scrape)
                .sort(Comparator.comparing(InstanceMetrics::application).thenComparing(InstanceMetrics::url))
                .collectList()
                .map(list -> new FleetMetrics(prefixes, list));
    }

    private Mono<InstanceMetrics> scrape(Instance instance) {
        String application = instance.getRegistration().getName();
        String id = instance.getId().getValue();
        String url = instance.getRegistration().getServiceUrl() != null
                ? instance.getRegistration().getServiceUrl() : instance.getRegistration().getManagementUrl();
        String status = instance.getStatusInfo().getStatus();
        if (!instance.getEndpoints().isPresent("prometheus")) {
            // Endpoints are learnt from the instance's /actuator index, so an instance never reached has none yet.
            String why = instance.getEndpoints().isPresent("health") && instance.getEndpoints().stream().count() > 1
                    ? "exposes no prometheus endpoint (management.endpoints.web.exposure.include)"
                    : "its Actuator endpoints are not known yet (status " + status + ")";
            return Mono.just(new InstanceMetrics(application, id, url, status, why, List.of()));
        }
        return client.instance(instance).get().uri("prometheus").accept(PROMETHEUS_TEXT)
                .retrieve().bodyToMono(String.class)
                .timeout(timeout)
                .map(text -> new InstanceMetrics(application, id, url, status, null,
                        PrometheusText.parse(text, this::shown)))
                .onErrorResume(e -> Mono.just(new InstanceMetrics(application, id, url, status,
                        "scrape failed: " + describe(e), List.of())));
    }

    private boolean shown(String name) {
        return !name.endsWith("_bucket") && prefixes.stream().anyMatch(name::startsWith);
    }

    private static String describe(Throwable e) {
        String message = e.getMessage();
        return message == null ? e.getClass().getSimpleName() : message;
    }
}
