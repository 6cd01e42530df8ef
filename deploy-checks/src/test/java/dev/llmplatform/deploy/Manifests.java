package dev.llmplatform.deploy;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The objects one overlay renders to ({@code kubectl kustomize}), read into fabric8's Kubernetes model. */
final class Manifests {
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    /** A workload's pod template, under the workload's kind and name. */
    record Workload(String kind, String name, Integer replicas, Map<String, String> selector, PodTemplateSpec template) {
    }

    final String overlay;
    final List<HasMetadata> objects;

    private Manifests(String overlay, List<HasMetadata> objects) {
        this.overlay = overlay;
        this.objects = objects;
    }

    static Manifests render(String overlay) {
        String yaml = Tool.output("kubectl", "kustomize", "k8s/overlays/" + overlay);
        List<HasMetadata> objects = new ArrayList<>();
        for (String doc : yaml.split("(?m)^---\\s*$")) {
            if (!doc.isBlank()) {
                objects.add(SERIALIZATION.unmarshal(doc, HasMetadata.class));
            }
        }
        return new Manifests(overlay, objects);
    }

    <T extends HasMetadata> List<T> all(Class<T> type) {
        return objects.stream().filter(type::isInstance).map(type::cast).toList();
    }

    <T extends HasMetadata> T get(Class<T> type, String name) {
        return all(type).stream().filter(o -> o.getMetadata().getName().equals(name)).findFirst().orElse(null);
    }

    boolean has(String kind, String name) {
        return objects.stream().anyMatch(o -> o.getKind().equals(kind) && o.getMetadata().getName().equals(name));
    }

    List<Workload> workloads() {
        List<Workload> w = new ArrayList<>();
        for (Deployment d : all(Deployment.class)) {
            w.add(new Workload("Deployment", d.getMetadata().getName(), d.getSpec().getReplicas(),
                    d.getSpec().getSelector().getMatchLabels(), d.getSpec().getTemplate()));
        }
        for (StatefulSet s : all(StatefulSet.class)) {
            w.add(new Workload("StatefulSet", s.getMetadata().getName(), s.getSpec().getReplicas(),
                    s.getSpec().getSelector().getMatchLabels(), s.getSpec().getTemplate()));
        }
        for (DaemonSet d : all(DaemonSet.class)) {
            w.add(new Workload("DaemonSet", d.getMetadata().getName(), null,
                    d.getSpec().getSelector().getMatchLabels(), d.getSpec().getTemplate()));
        }
        return w;
    }

    /** The workloads whose pods carry every one of these labels. */
    List<Workload> selectedBy(Map<String, String> selector) {
        if (selector == null || selector.isEmpty()) {
            return List.of();
        }
        return workloads().stream().filter(w -> labels(w).entrySet().containsAll(selector.entrySet())).toList();
    }

    static Map<String, String> labels(Workload w) {
        Map<String, String> labels = w.template().getMetadata().getLabels();
        return labels == null ? Map.of() : labels;
    }

    /**
     * A container's environment as the kubelet would set it: envFrom ConfigMaps (and Secrets), then env, with
     * configMapKeyRef values resolved; secret values are what the Secret holds.
     */
    Map<String, String> environment(Container c) {
        Map<String, String> env = new LinkedHashMap<>();
        for (EnvFromSource from : c.getEnvFrom()) {
            if (from.getConfigMapRef() != null) {
                ConfigMap cm = get(ConfigMap.class, from.getConfigMapRef().getName());
                if (cm != null && cm.getData() != null) {
                    env.putAll(cm.getData());
                }
            }
            if (from.getSecretRef() != null) {
                Secret s = get(Secret.class, from.getSecretRef().getName());
                if (s != null) {
                    secretKeys(s).forEach(k -> env.put(k, secretValue(s, k)));
                }
            }
        }
        for (EnvVar e : c.getEnv()) {
            if (e.getValueFrom() == null) {
                env.put(e.getName(), e.getValue() == null ? "" : e.getValue());
            } else if (e.getValueFrom().getConfigMapKeyRef() != null) {
                ConfigMap cm = get(ConfigMap.class, e.getValueFrom().getConfigMapKeyRef().getName());
                env.put(e.getName(), cm == null || cm.getData() == null ? "" : cm.getData().getOrDefault(
                        e.getValueFrom().getConfigMapKeyRef().getKey(), ""));
            } else if (e.getValueFrom().getSecretKeyRef() != null) {
                Secret s = get(Secret.class, e.getValueFrom().getSecretKeyRef().getName());
                env.put(e.getName(), s == null ? "" : secretValue(s, e.getValueFrom().getSecretKeyRef().getKey()));
            } else {
                env.put(e.getName(), "");
            }
        }
        return env;
    }

    static Set<String> secretKeys(Secret s) {
        Set<String> keys = new java.util.LinkedHashSet<>();
        if (s.getData() != null) {
            keys.addAll(s.getData().keySet());
        }
        if (s.getStringData() != null) {
            keys.addAll(s.getStringData().keySet());
        }
        return keys;
    }

    private static String secretValue(Secret s, String key) {
        if (s.getStringData() != null && s.getStringData().containsKey(key)) {
            return s.getStringData().get(key);
        }
        if (s.getData() != null && s.getData().containsKey(key)) {
            return new String(java.util.Base64.getDecoder().decode(s.getData().get(key)));
        }
        return "";
    }
}
