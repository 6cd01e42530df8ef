package dev.llmplatform.deploy;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import tools.jackson.databind.JsonNode;

/**
 * A service's configuration as Spring Boot would see it in a container: the module's
 * {@code src/main/resources/application.yaml}, overridden by environment variables and {@code --name=value}
 * arguments (relaxed binding: {@code MANAGEMENT_ENDPOINT_HEALTH_PROBES_ENABLED} sets
 * {@code management.endpoint.health.probes.enabled}). Answers what the deployment files need: the ports and the
 * Actuator paths that exist.
 */
final class SpringConfig {
    private final String module;
    /** Canonical property name (lower case, no dashes, list indexes as segments) to value. */
    private final Map<String, String> properties;

    private SpringConfig(String module, Map<String, String> properties) {
        this.module = module;
        this.properties = properties;
    }

    /** The module's own application.yaml, nothing overridden. */
    static SpringConfig of(String module) {
        Map<String, String> props = new LinkedHashMap<>();
        String file = module + "/src/main/resources/application.yaml";
        if (java.nio.file.Files.exists(Repo.path(file))) {
            flatten("", Repo.yamlFile(file), props);
        }
        return new SpringConfig(module, props);
    }

    /** This configuration with environment variables and command-line arguments on top. */
    SpringConfig with(Map<String, String> environment, List<String> args) {
        Map<String, String> props = new LinkedHashMap<>(properties);
        environment.forEach((name, value) -> props.put(canonicalEnv(name), value == null ? "" : value));
        for (String arg : args) {
            if (arg.startsWith("--") && arg.contains("=")) {
                int eq = arg.indexOf('=');
                props.put(canonical(arg.substring(2, eq)), arg.substring(eq + 1));
            }
        }
        return new SpringConfig(module, props);
    }

    String module() {
        return module;
    }

    /** The value of a property (any spelling Spring accepts), or null. */
    String get(String name) {
        return properties.get(canonical(name));
    }

    int serverPort() {
        String p = get("server.port");
        return p == null ? 8080 : Integer.parseInt(p.trim());
    }

    /** Where Actuator answers: its own port when management.server.port is set, else the server's. */
    int managementPort() {
        String p = get("management.server.port");
        return p == null ? serverPort() : Integer.parseInt(p.trim());
    }

    private String actuatorBase() {
        String base = get("management.endpoints.web.base-path");
        return base == null ? "/actuator" : base.replaceAll("/$", "");
    }

    /** Whether the web endpoint of that id is exposed (Boot exposes only health unless told otherwise). */
    boolean exposes(String endpoint) {
        String include = get("management.endpoints.web.exposure.include");
        String exclude = get("management.endpoints.web.exposure.exclude");
        Set<String> included = include == null ? Set.of("health") : split(include);
        Set<String> excluded = exclude == null ? Set.of() : split(exclude);
        return (included.contains("*") || included.contains(endpoint)) && !excluded.contains(endpoint)
                && !excluded.contains("*");
    }

    /**
     * The health paths that answer: the health endpoint, its groups, and the liveness and readiness groups when the
     * probes are on (by configuration, or by Boot itself when it runs on Kubernetes and they are not turned off).
     */
    Set<String> healthPaths(boolean onKubernetes) {
        Set<String> paths = new LinkedHashSet<>();
        if (!exposes("health")) {
            return paths;
        }
        String health = actuatorBase() + "/health";
        paths.add(health);
        String probes = get("management.endpoint.health.probes.enabled");
        if ("true".equalsIgnoreCase(probes) || (onKubernetes && probes == null)) {
            paths.add(health + "/liveness");
            paths.add(health + "/readiness");
        }
        String groupPrefix = canonical("management.endpoint.health.group") + ".";
        for (String key : properties.keySet()) {
            if (key.startsWith(groupPrefix)) {
                paths.add(health + "/" + key.substring(groupPrefix.length()).split("\\.")[0]);
            }
        }
        return paths;
    }

    /** The Prometheus scrape path, or null when the endpoint is not exposed. */
    String prometheusPath() {
        return exposes("prometheus") ? actuatorBase() + "/prometheus" : null;
    }

    private static Set<String> split(String list) {
        Set<String> s = new LinkedHashSet<>();
        for (String part : list.split(",")) {
            if (!part.isBlank()) {
                s.add(part.trim().toLowerCase(Locale.ROOT));
            }
        }
        return s;
    }

    private static void flatten(String prefix, JsonNode node, Map<String, String> out) {
        if (node == null || node.isNull()) {
            if (!prefix.isEmpty()) {
                out.put(prefix, "");
            }
        } else if (node.isObject()) {
            for (var e : node.properties()) {
                flatten(prefix.isEmpty() ? canonical(e.getKey()) : prefix + "." + canonical(e.getKey()), e.getValue(), out);
            }
        } else if (node.isArray()) {
            List<String> scalars = new ArrayList<>();
            for (int i = 0; i < node.size(); i++) {
                flatten(prefix + "." + i, node.get(i), out);
                if (node.get(i).isValueNode()) {
                    scalars.add(node.get(i).asString());
                }
            }
            // Boot also binds a list from one comma-separated value ("include: health, info").
            out.put(prefix, String.join(",", scalars));
        } else {
            out.put(prefix, node.asString());
        }
    }

    /** Boot's canonical form: lower case, dashes dropped, [n] as a segment. */
    static String canonical(String name) {
        return name.toLowerCase(Locale.ROOT).replace("-", "").replaceAll("\\[(\\d+)]", ".$1");
    }

    /** An environment variable's property name: underscores are dots, numbers between them list indexes. */
    static String canonicalEnv(String name) {
        return name.toLowerCase(Locale.ROOT).replace('_', '.');
    }
}
