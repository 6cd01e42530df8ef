package dev.llmplatform.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * docker-compose.yml as docker-compose itself reads it ({@code docker-compose config}: Debian's docker-compose, which
 * also rejects what it does not understand), then checked against the services' own configuration: ports, health
 * checks, the startup order and the addresses services give each other.
 */
class ComposeFileTest {
    private static final Pattern LOCAL_URL = Pattern.compile("https?://(?:127\\.0\\.0\\.1|localhost):(\\d+)(/\\S*)");
    /** host:port after a scheme (http://, jdbc:postgresql://, redis://), where the host is one DNS label. */
    private static final Pattern SERVICE_ADDRESS = Pattern.compile("[a-z][a-z0-9+.:-]*://([a-z0-9][a-z0-9-]*):(\\d+)");

    private static JsonNode services;

    @BeforeAll
    static void render() {
        Tool.require("docker-compose");
        // Every profile, so that the monitoring services are checked too.
        String rendered = Tool.output("docker-compose", "-f", "docker-compose.yml", "--profile", "monitoring", "config");
        services = Repo.yaml(rendered).get("services");
        assertThat(services).as("docker-compose config: services").isNotNull();
    }

    private static Map<String, JsonNode> services() {
        Map<String, JsonNode> m = new LinkedHashMap<>();
        for (var e : services.properties()) {
            m.put(e.getKey(), e.getValue());
        }
        return m;
    }

    /** The module a service is built from (its Dockerfile's directory), or null for a third-party image. */
    private static String module(JsonNode service) {
        JsonNode build = service.get("build");
        if (build != null && build.has("dockerfile")) {
            return Path.of(build.get("dockerfile").asString()).getName(0).toString();
        }
        return service.has("image") ? Repo.moduleOfImage(service.get("image").asString()) : null;
    }

    private static SpringConfig config(JsonNode service) {
        Map<String, String> env = new LinkedHashMap<>();
        JsonNode environment = service.get("environment");
        if (environment != null) {
            environment.properties().forEach(e -> env.put(e.getKey(), e.getValue().isNull() ? "" : e.getValue().asString()));
        }
        return SpringConfig.of(module(service)).with(env, words(service.get("command")));
    }

    private static List<String> words(JsonNode node) {
        List<String> words = new ArrayList<>();
        if (node == null || node.isNull()) {
            return words;
        }
        if (node.isArray()) {
            node.forEach(w -> words.add(w.asString()));
        } else {
            words.addAll(List.of(node.asString().trim().split("\\s+")));
        }
        return words;
    }

    /** The container ports a service publishes or exposes on the compose network. */
    private static Set<Integer> containerPorts(JsonNode service) {
        Set<Integer> ports = new LinkedHashSet<>();
        JsonNode list = service.get("ports");
        if (list != null) {
            for (JsonNode p : list) {
                if (p.isObject()) {
                    ports.add(p.get("target").asInt());
                } else {
                    String[] parts = p.asString().split("/")[0].split(":");
                    ports.add(Integer.parseInt(parts[parts.length - 1]));
                }
            }
        }
        JsonNode expose = service.get("expose");
        if (expose != null) {
            expose.forEach(p -> ports.add(Integer.parseInt(p.asString().split("/")[0])));
        }
        return ports;
    }

    /** Where a service answers on the network: our services on their configured ports, others as published. */
    private static Set<Integer> servedPorts(JsonNode service) {
        if (module(service) == null) {
            return containerPorts(service);
        }
        SpringConfig c = config(service);
        return new LinkedHashSet<>(List.of(c.serverPort(), c.managementPort()));
    }

    private static List<String> readLines(Path file) {
        try {
            return Files.readAllLines(file).stream().map(String::strip).toList();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void buildsOurServicesFromTheRepositoryRootWithTheirDockerfiles() {
        services().forEach((name, s) -> {
            JsonNode build = s.get("build");
            if (build == null) {
                return;
            }
            Path context = Path.of(build.get("context").asString());
            assertThat(context.toAbsolutePath().normalize()).as("%s: build context", name).isEqualTo(Repo.ROOT);
            String dockerfile = build.get("dockerfile").asString();
            assertThat(Repo.DOCKERFILES).as("%s: a Dockerfile that the Dockerfile checks cover", name).contains(dockerfile);
            assertThat(Repo.moduleOfImage(s.get("image").asString())).as("%s: image %s names its module", name,
                    s.get("image").asString()).isEqualTo(module(s));
        });
    }

    @Test
    void mapsOnlyThePortsOurServicesListenOn() {
        services().forEach((name, s) -> {
            if (module(s) == null) {
                return;
            }
            assertThat(containerPorts(s)).as("%s: container ports (it listens on %s)", name, servedPorts(s))
                    .isSubsetOf(servedPorts(s));
        });
    }

    @Test
    void checksTheHealthOfOurServicesOnRealActuatorPaths() {
        services().forEach((name, s) -> {
            String module = module(s);
            if (module == null) {
                return;
            }
            JsonNode health = s.get("healthcheck");
            assertThat(health).as("%s: a health check (depends_on waits on it)", name).isNotNull();
            String test = String.join(" ", words(health.get("test")));
            Matcher url = LOCAL_URL.matcher(test);
            assertThat(url.find()).as("%s: the health check calls the service on loopback: %s", name, test).isTrue();
            SpringConfig c = config(s);
            assertThat(Integer.parseInt(url.group(1))).as("%s: health check port", name).isEqualTo(c.managementPort());
            assertThat(url.group(2)).as("%s: health check path (%s answers %s)", name, module, c.healthPaths(false))
                    .isIn(c.healthPaths(false));
        });
    }

    @Test
    void startsEachServiceAfterWhatItNeedsIsHealthyOrDone() {
        Map<String, JsonNode> all = services();
        all.forEach((name, s) -> {
            JsonNode dependsOn = s.get("depends_on");
            if (dependsOn == null) {
                return;
            }
            for (var dep : dependsOn.properties()) {
                JsonNode target = all.get(dep.getKey());
                assertThat(target).as("%s depends on %s, which is not a service", name, dep.getKey()).isNotNull();
                String condition = dep.getValue().path("condition").asString("service_started");
                if (condition.equals("service_healthy")) {
                    assertThat(target.has("healthcheck")).as("%s waits for %s to be healthy, which has no health check",
                            name, dep.getKey()).isTrue();
                } else if (condition.equals("service_completed_successfully")) {
                    assertThat(target.path("restart").asString("no")).as("%s waits for %s to finish, which restarts",
                            name, dep.getKey()).isIn("no", "on-failure");
                } else {
                    assertThat(condition).as("%s -> %s: health-gated order", name, dep.getKey())
                            .isIn("service_healthy", "service_completed_successfully");
                }
            }
        });
    }

    @Test
    void addressesOtherServicesByTheirNamesAndTheirPorts() {
        Map<String, JsonNode> all = services();
        List<String> problems = new ArrayList<>();
        all.forEach((name, s) -> {
            List<String> values = new ArrayList<>(words(s.get("command")));
            JsonNode env = s.get("environment");
            if (env != null) {
                env.properties().forEach(e -> values.add(e.getValue().asString()));
            }
            // Configuration files mounted from the repository (the admin server's fleet list, for one).
            JsonNode volumes = s.get("volumes");
            if (volumes != null) {
                for (JsonNode v : volumes) {
                    Path source = Path.of(v.isObject() ? v.path("source").asString() : v.asString().split(":")[0]);
                    if (source.isAbsolute() && Files.isRegularFile(source) && source.toString().matches(".*\\.ya?ml$")) {
                        values.addAll(readLines(source));
                    }
                }
            }
            for (String v : values) {
                Matcher m = SERVICE_ADDRESS.matcher(v);
                while (m.find()) {
                    String host = m.group(1);
                    int port = Integer.parseInt(m.group(2));
                    if (host.equals("localhost")) {
                        continue;
                    }
                    JsonNode target = all.get(host);
                    if (target == null) {
                        problems.add(name + ": " + v + " names " + host + ", which is not a service");
                    } else if (!servedPorts(target).contains(port)) {
                        problems.add(name + ": " + v + ", but " + host + " listens on " + servedPorts(target));
                    }
                }
            }
        });
        assertThat(problems).isEmpty();
    }

    @Test
    void pointsTheGatewayAtInferenceInstancesAndTheRegistry() {
        Map<String, JsonNode> all = services();
        List<String> gateways = all.keySet().stream().filter(n -> "gateway-service".equals(module(all.get(n)))).toList();
        assertThat(gateways).as("a gateway").hasSize(1);
        SpringConfig gateway = config(all.get(gateways.getFirst()));
        List<String> instances = new ArrayList<>();
        for (int i = 0; gateway.get("llm.gateway.instances[" + i + "]") != null; i++) {
            instances.add(gateway.get("llm.gateway.instances[" + i + "]"));
        }
        assertThat(instances).as("the gateway's llm.gateway.instances").hasSizeGreaterThanOrEqualTo(2);
        for (String instance : instances) {
            String host = java.net.URI.create(instance).getHost();
            assertThat(all).as("gateway instance %s is a service", instance).containsKey(host);
            assertThat(module(all.get(host))).as("gateway instance %s", instance).isEqualTo("inference-service");
        }
        String registry = java.net.URI.create(gateway.get("llm.gateway.registry.url")).getHost();
        assertThat(all).as("llm.gateway.registry.url names a service").containsKey(registry);
        assertThat(module(all.get(registry))).as("llm.gateway.registry.url").isEqualTo("model-registry-service");
        assertThat(gateway.get("llm.gateway.rate-limit.store")).as("rate limits shared through Redis").isEqualTo("redis");
        String redis = gateway.get("spring.data.redis.host");
        assertThat(all).as("spring.data.redis.host %s", redis).containsKey(redis);
    }

    @Test
    void mountsFilesThatExistAndDeclaresNamedVolumes() {
        services().forEach((name, s) -> {
            JsonNode volumes = s.get("volumes");
            if (volumes == null) {
                return;
            }
            for (JsonNode v : volumes) {
                String source = v.isObject() ? v.path("source").asString() : v.asString().split(":")[0];
                if (source.startsWith("/") || source.startsWith(".")) {
                    assertThat(Files.exists(Repo.ROOT.resolve(source).normalize())).as("%s mounts %s", name, source).isTrue();
                }
            }
        });
    }

    @Test
    void scrapesTheServicesThatServePrometheusMetrics() {
        Map<String, JsonNode> all = services();
        JsonNode prometheus = all.get("prometheus");
        assertThat(prometheus).as("a prometheus service").isNotNull();
        assertThat(words(prometheus.get("profiles"))).as("prometheus is optional").contains("monitoring");
        assertThat(prometheus.get("volumes").toString()).as("prometheus mounts deploy/prometheus/prometheus.yml")
                .contains(Repo.path("deploy/prometheus/prometheus.yml").toString());
        JsonNode scrapeConfigs = Repo.yamlFile("deploy/prometheus/prometheus.yml").get("scrape_configs");
        Set<String> scraped = new LinkedHashSet<>();
        for (JsonNode job : scrapeConfigs) {
            String path = job.path("metrics_path").asString("/metrics");
            for (JsonNode sc : job.get("static_configs")) {
                for (JsonNode t : sc.get("targets")) {
                    String[] hostPort = t.asString().split(":");
                    JsonNode target = all.get(hostPort[0]);
                    assertThat(target).as("scrape target %s is a service", t.asString()).isNotNull();
                    SpringConfig c = config(target);
                    assertThat(Integer.parseInt(hostPort[1])).as("scrape target %s: port", t.asString()).isEqualTo(c.managementPort());
                    assertThat(path).as("job %s: %s serves metrics at", job.get("job_name").asString(), hostPort[0])
                            .isEqualTo(c.prometheusPath());
                    scraped.add(hostPort[0]);
                }
            }
        }
        all.forEach((name, s) -> {
            if ("inference-service".equals(module(s))) {
                assertThat(scraped).as("every inference instance is scraped").contains(name);
            }
        });
    }
}
