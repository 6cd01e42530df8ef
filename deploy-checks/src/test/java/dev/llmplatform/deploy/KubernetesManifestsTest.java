package dev.llmplatform.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.autoscaling.v2.MetricSpec;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every overlay under k8s/overlays, rendered by {@code kubectl kustomize} and read into fabric8's model, checked for
 * what neither tool checks: that selectors select, probes and ports agree with the services' own configuration,
 * references resolve, the autoscaler and disruption budgets act on real pods, and the gateway may discover them.
 */
class KubernetesManifestsTest {
    /** host:port after a scheme, where the host is one DNS label (a Service in the same namespace). */
    private static final Pattern SERVICE_ADDRESS = Pattern.compile("[a-z][a-z0-9+.:-]*://([a-z0-9][a-z0-9-]*):(\\d+)");
    private static final Map<String, Manifests> RENDERED = new HashMap<>();

    static List<String> overlays() {
        try (Stream<java.nio.file.Path> dirs = Files.list(Repo.path("k8s/overlays"))) {
            return dirs.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @BeforeAll
    static void kubectl() {
        Tool.require("kubectl");
    }

    private static Manifests manifests(String overlay) {
        return RENDERED.computeIfAbsent(overlay, Manifests::render);
    }

    /** Our containers (their image is one of the services') with the service's configuration as the pod sets it. */
    private record OurContainer(Manifests.Workload workload, Container container, SpringConfig config) {
        String where() {
            return workload.kind() + " " + workload.name() + ", container " + container.getName();
        }
    }

    private static List<OurContainer> ourContainers(Manifests m) {
        List<OurContainer> ours = new ArrayList<>();
        for (Manifests.Workload w : m.workloads()) {
            for (Container c : w.template().getSpec().getContainers()) {
                String module = Repo.moduleOfImage(c.getImage());
                if (module != null) {
                    SpringConfig config = SpringConfig.of(module).with(m.environment(c),
                            Stream.concat(c.getCommand().stream(), c.getArgs().stream()).toList());
                    ours.add(new OurContainer(w, c, config));
                }
            }
        }
        return ours;
    }

    /** The container port a numbered or named port refers to in a pod, or null when no container declares it. */
    private static Integer resolvePort(PodSpec pod, IntOrString port) {
        for (Container c : pod.getContainers()) {
            for (ContainerPort p : c.getPorts()) {
                if (port.getIntVal() != null ? port.getIntVal().equals(p.getContainerPort()) : port.getStrVal().equals(p.getName())) {
                    return p.getContainerPort();
                }
            }
        }
        return null;
    }

    @Test
    void thereAreOverlaysForCpuAndGpuAndModelsSplitOverTwoFourAndEightGpus() {
        assertThat(overlays()).contains("cpu", "gpu", "gpu-tp2", "gpu-tp4", "gpu-tp8");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void putsEverythingInOneNamespaceThatItCreates(String overlay) {
        Manifests m = manifests(overlay);
        List<Namespace> namespaces = m.all(Namespace.class);
        assertThat(namespaces).as("one Namespace").hasSize(1);
        String ns = namespaces.getFirst().getMetadata().getName();
        for (HasMetadata o : m.objects) {
            if (!(o instanceof Namespace)) {
                assertThat(o.getMetadata().getNamespace()).as("%s %s: namespace", o.getKind(), o.getMetadata().getName())
                        .isEqualTo(ns);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void usesOnlyFieldsTheKubernetesApiKnows(String overlay) {
        // kubectl kustomize renders any YAML; fabric8 keeps fields its model does not know aside, which is where a
        // misspelt field (readinessprobe, initialDelaySecond) lands instead of failing.
        List<String> unknown = new ArrayList<>();
        for (HasMetadata o : manifests(overlay).objects) {
            unknownFields(o, o.getKind() + " " + o.getMetadata().getName(), unknown, java.util.Collections.newSetFromMap(
                    new java.util.IdentityHashMap<>()));
        }
        assertThat(unknown).as("fields the Kubernetes API does not have").isEmpty();
    }

    private static void unknownFields(Object node, String where, List<String> unknown, java.util.Set<Object> seen) {
        if (node == null || !seen.add(node)) {
            return;
        }
        if (node instanceof List<?> list) {
            for (int i = 0; i < list.size(); i++) {
                unknownFields(list.get(i), where + "[" + i + "]", unknown, seen);
            }
            return;
        }
        if (node instanceof Map<?, ?> map) {
            map.forEach((k, v) -> unknownFields(v, where + "." + k, unknown, seen));
            return;
        }
        if (!node.getClass().getName().startsWith("io.fabric8.kubernetes.api.model")) {
            return;
        }
        for (java.lang.reflect.Method getter : node.getClass().getMethods()) {
            if (getter.getParameterCount() != 0 || !getter.getName().startsWith("get") || getter.getName().equals("getClass")) {
                continue;
            }
            Object value;
            try {
                value = getter.invoke(node);
            } catch (ReflectiveOperationException e) {
                continue;
            }
            if (getter.getName().equals("getAdditionalProperties")) {
                if (value instanceof Map<?, ?> extra && !extra.isEmpty()) {
                    unknown.add(where + ": " + extra.keySet());
                }
            } else {
                unknownFields(value, where + "." + getter.getName().substring(3, 4).toLowerCase() + getter.getName().substring(4),
                        unknown, seen);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void selectsEachWorkloadsOwnPods(String overlay) {
        for (Manifests.Workload w : manifests(overlay).workloads()) {
            assertThat(w.selector()).as("%s %s: selector", w.kind(), w.name()).isNotEmpty();
            assertThat(Manifests.labels(w).entrySet()).as("%s %s: pod template labels carry the selector's", w.kind(),
                    w.name()).containsAll(w.selector().entrySet());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void routesEachServiceToPodsWithTheTargetPort(String overlay) {
        Manifests m = manifests(overlay);
        for (Service s : m.all(Service.class)) {
            String name = s.getMetadata().getName();
            List<Manifests.Workload> selected = m.selectedBy(s.getSpec().getSelector());
            assertThat(selected).as("Service %s selects %s: no pods carry those labels", name, s.getSpec().getSelector())
                    .isNotEmpty();
            for (ServicePort port : s.getSpec().getPorts()) {
                IntOrString target = port.getTargetPort() != null ? port.getTargetPort() : new IntOrString(port.getPort());
                for (Manifests.Workload w : selected) {
                    assertThat(resolvePort(w.template().getSpec(), target)).as("Service %s port %s: targetPort %s on %s %s",
                            name, port.getName(), target.getValue(), w.kind(), w.name()).isNotNull();
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void probesOurServicesOnRealActuatorPathsAndTheirPorts(String overlay) {
        List<OurContainer> ours = ourContainers(manifests(overlay));
        assertThat(ours).as("our services' containers").isNotEmpty();
        for (OurContainer o : ours) {
            SpringConfig c = o.config();
            List<Integer> declared = o.container().getPorts().stream().map(ContainerPort::getContainerPort).toList();
            assertThat(declared).as("%s: containerPort (%s listens on %d)", o.where(), c.module(), c.serverPort())
                    .contains(c.serverPort()).isSubsetOf(c.serverPort(), c.managementPort());
            Map<String, Probe> probes = new LinkedHashMap<>();
            probes.put("startupProbe", o.container().getStartupProbe());
            probes.put("livenessProbe", o.container().getLivenessProbe());
            probes.put("readinessProbe", o.container().getReadinessProbe());
            probes.forEach((kind, probe) -> {
                assertThat(probe).as("%s: %s", o.where(), kind).isNotNull();
                assertThat(probe.getHttpGet()).as("%s: %s is an HTTP GET on Actuator", o.where(), kind).isNotNull();
                Integer port = resolvePort(o.workload().template().getSpec(), probe.getHttpGet().getPort());
                assertThat(port).as("%s: %s port %s is a container port", o.where(), kind,
                        probe.getHttpGet().getPort().getValue()).isNotNull();
                assertThat(port).as("%s: %s port", o.where(), kind).isEqualTo(c.managementPort());
                assertThat(probe.getHttpGet().getPath()).as("%s: %s path (%s answers %s on Kubernetes)", o.where(), kind,
                        c.module(), c.healthPaths(true)).isIn(c.healthPaths(true));
            });
            assertThat(o.container().getReadinessProbe().getHttpGet().getPath()).as("%s: readiness", o.where())
                    .isNotEqualTo(o.container().getLivenessProbe().getHttpGet().getPath());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void runsOurServicesAsNonRootWithResourceRequests(String overlay) {
        for (OurContainer o : ourContainers(manifests(overlay))) {
            PodSpec pod = o.workload().template().getSpec();
            Boolean nonRoot = o.container().getSecurityContext() != null
                    && o.container().getSecurityContext().getRunAsNonRoot() != null
                    ? o.container().getSecurityContext().getRunAsNonRoot()
                    : pod.getSecurityContext() == null ? null : pod.getSecurityContext().getRunAsNonRoot();
            assertThat(nonRoot).as("%s: runAsNonRoot", o.where()).isTrue();
            Map<String, Quantity> requests = o.container().getResources() == null ? null
                    : o.container().getResources().getRequests();
            assertThat(requests).as("%s: resource requests", o.where()).isNotNull().containsKeys("cpu", "memory");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void refersOnlyToConfigMapsSecretsAndServiceAccountsThatExist(String overlay) {
        Manifests m = manifests(overlay);
        List<String> problems = new ArrayList<>();
        for (Manifests.Workload w : m.workloads()) {
            PodSpec pod = w.template().getSpec();
            String where = w.kind() + " " + w.name();
            if (pod.getServiceAccountName() != null && !pod.getServiceAccountName().equals("default")
                    && m.get(ServiceAccount.class, pod.getServiceAccountName()) == null) {
                problems.add(where + ": ServiceAccount " + pod.getServiceAccountName());
            }
            for (Container c : Stream.concat(pod.getContainers().stream(), pod.getInitContainers().stream()).toList()) {
                for (EnvFromSource from : c.getEnvFrom()) {
                    if (from.getConfigMapRef() != null && !Boolean.TRUE.equals(from.getConfigMapRef().getOptional())
                            && m.get(ConfigMap.class, from.getConfigMapRef().getName()) == null) {
                        problems.add(where + ": envFrom ConfigMap " + from.getConfigMapRef().getName());
                    }
                    if (from.getSecretRef() != null && !Boolean.TRUE.equals(from.getSecretRef().getOptional())
                            && m.get(Secret.class, from.getSecretRef().getName()) == null) {
                        problems.add(where + ": envFrom Secret " + from.getSecretRef().getName());
                    }
                }
                for (EnvVar e : c.getEnv()) {
                    if (e.getValueFrom() == null) {
                        continue;
                    }
                    var cmRef = e.getValueFrom().getConfigMapKeyRef();
                    if (cmRef != null && !Boolean.TRUE.equals(cmRef.getOptional())) {
                        ConfigMap cm = m.get(ConfigMap.class, cmRef.getName());
                        if (cm == null || cm.getData() == null || !cm.getData().containsKey(cmRef.getKey())) {
                            problems.add(where + ": " + e.getName() + " from ConfigMap " + cmRef.getName() + " key " + cmRef.getKey());
                        }
                    }
                    var secretRef = e.getValueFrom().getSecretKeyRef();
                    if (secretRef != null && !Boolean.TRUE.equals(secretRef.getOptional())) {
                        Secret s = m.get(Secret.class, secretRef.getName());
                        if (s == null || !Manifests.secretKeys(s).contains(secretRef.getKey())) {
                            problems.add(where + ": " + e.getName() + " from Secret " + secretRef.getName() + " key " + secretRef.getKey());
                        }
                    }
                }
                c.getVolumeMounts().forEach(vm -> {
                    if (pod.getVolumes().stream().noneMatch(v -> v.getName().equals(vm.getName()))) {
                        problems.add(where + ": volumeMount " + vm.getName() + " has no volume");
                    }
                });
            }
            for (Volume v : pod.getVolumes()) {
                if (v.getConfigMap() != null && m.get(ConfigMap.class, v.getConfigMap().getName()) == null) {
                    problems.add(where + ": volume " + v.getName() + " ConfigMap " + v.getConfigMap().getName());
                }
                if (v.getSecret() != null && m.get(Secret.class, v.getSecret().getSecretName()) == null) {
                    problems.add(where + ": volume " + v.getName() + " Secret " + v.getSecret().getSecretName());
                }
            }
        }
        for (RoleBinding rb : m.all(RoleBinding.class)) {
            if (!m.has(rb.getRoleRef().getKind(), rb.getRoleRef().getName())) {
                problems.add("RoleBinding " + rb.getMetadata().getName() + ": " + rb.getRoleRef().getKind() + " " + rb.getRoleRef().getName());
            }
            for (Subject s : rb.getSubjects()) {
                if (s.getKind().equals("ServiceAccount") && (m.get(ServiceAccount.class, s.getName()) == null
                        || !rb.getMetadata().getNamespace().equals(s.getNamespace()))) {
                    problems.add("RoleBinding " + rb.getMetadata().getName() + ": ServiceAccount " + s.getName()
                            + " in namespace " + s.getNamespace() + " (a ServiceAccount subject needs its namespace)");
                }
            }
        }
        assertThat(problems).as("references that do not resolve").isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void addressesServicesByNameAndPort(String overlay) {
        Manifests m = manifests(overlay);
        List<String> values = new ArrayList<>();
        for (Manifests.Workload w : m.workloads()) {
            for (Container c : w.template().getSpec().getContainers()) {
                m.environment(c).forEach((k, v) -> values.add(w.name() + " " + k + "=" + v));
            }
        }
        for (ConfigMap cm : m.all(ConfigMap.class)) {
            if (cm.getData() != null) {
                cm.getData().forEach((k, v) -> values.add("ConfigMap " + cm.getMetadata().getName() + " " + k + ": " + v));
            }
        }
        List<String> problems = new ArrayList<>();
        for (String value : values) {
            Matcher a = SERVICE_ADDRESS.matcher(value);
            while (a.find()) {
                Service s = m.get(Service.class, a.group(1));
                int port = Integer.parseInt(a.group(2));
                if (s == null) {
                    problems.add(value.lines().findFirst().orElse("") + " ...: no Service " + a.group(1));
                } else if (s.getSpec().getPorts().stream().noneMatch(p -> p.getPort() == port)) {
                    problems.add(a.group() + ": Service " + a.group(1) + " has no port " + port);
                }
            }
        }
        assertThat(problems).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void scalesInferenceOnTheWaitingRequestsMetricItExports(String overlay) {
        Manifests m = manifests(overlay);
        List<HorizontalPodAutoscaler> hpas = m.all(HorizontalPodAutoscaler.class);
        assertThat(hpas).as("a HorizontalPodAutoscaler").isNotEmpty();
        for (HorizontalPodAutoscaler hpa : hpas) {
            var ref = hpa.getSpec().getScaleTargetRef();
            Manifests.Workload target = m.workloads().stream()
                    .filter(w -> w.kind().equals(ref.getKind()) && w.name().equals(ref.getName())).findFirst().orElse(null);
            assertThat(target).as("HPA %s scales %s %s", hpa.getMetadata().getName(), ref.getKind(), ref.getName()).isNotNull();
            assertThat(hpa.getSpec().getMinReplicas()).as("HPA minReplicas").isLessThanOrEqualTo(hpa.getSpec().getMaxReplicas());
            for (MetricSpec metric : hpa.getSpec().getMetrics()) {
                assertThat(metric.getType()).as("HPA %s: a custom per-pod metric", hpa.getMetadata().getName()).isEqualTo("Pods");
                String name = metric.getPods().getMetric().getName();
                boolean inference = target.template().getSpec().getContainers().stream()
                        .anyMatch(c -> "inference-service".equals(Repo.moduleOfImage(c.getImage())));
                assertThat(inference).as("HPA %s scales the inference pods", hpa.getMetadata().getName()).isTrue();
                assertThat(InferenceMetricNames.prometheusNames()).as("HPA metric %s is one inference-service exports", name)
                        .contains(name);
                assertThat(adapterMetrics()).as("HPA metric %s is served by the prometheus-adapter rule in k8s/prometheus-adapter",
                        name).contains(name);
            }
        }
    }

    /** The custom metric names the prometheus-adapter rules serve (their {@code name.as}, or the series name). */
    private static List<String> adapterMetrics() {
        List<String> names = new ArrayList<>();
        for (var rule : Repo.yamlFile("k8s/prometheus-adapter/values.yaml").path("rules").path("custom")) {
            String as = rule.path("name").path("as").asString("");
            names.add(as.isEmpty() ? rule.path("seriesQuery").asString().replaceAll("[{].*", "").replace("'", "") : as);
        }
        return names;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void limitsDisruptionOfRealPodsWithoutBlockingDrains(String overlay) {
        Manifests m = manifests(overlay);
        List<PodDisruptionBudget> pdbs = m.all(PodDisruptionBudget.class);
        assertThat(pdbs).as("PodDisruptionBudgets").isNotEmpty();
        for (PodDisruptionBudget pdb : pdbs) {
            String name = pdb.getMetadata().getName();
            List<Manifests.Workload> selected = m.selectedBy(pdb.getSpec().getSelector().getMatchLabels());
            assertThat(selected).as("PDB %s selects pods", name).isNotEmpty();
            IntOrString minAvailable = pdb.getSpec().getMinAvailable();
            IntOrString maxUnavailable = pdb.getSpec().getMaxUnavailable();
            assertThat(minAvailable == null ^ maxUnavailable == null).as("PDB %s: minAvailable or maxUnavailable", name).isTrue();
            for (Manifests.Workload w : selected) {
                int replicas = Objects.requireNonNullElse(w.replicas(), 1);
                if (minAvailable != null && minAvailable.getIntVal() != null) {
                    assertThat(minAvailable.getIntVal()).as("PDB %s: minAvailable below %s %s's %d replicas, or no node drains",
                            name, w.kind(), w.name(), replicas).isLessThan(replicas);
                }
                if (maxUnavailable != null && maxUnavailable.getIntVal() != null) {
                    assertThat(maxUnavailable.getIntVal()).as("PDB %s: maxUnavailable", name).isPositive();
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void letsTheGatewayDiscoverTheInferencePods(String overlay) {
        Manifests m = manifests(overlay);
        List<OurContainer> gateways = ourContainers(m).stream().filter(o -> o.config().module().equals("gateway-service")).toList();
        assertThat(gateways).as("a gateway").hasSize(1);
        OurContainer gateway = gateways.getFirst();
        SpringConfig c = gateway.config();
        assertThat(c.get("llm.gateway.discovery.enabled")).as("the gateway discovers instances").isEqualTo("true");
        List<String> serviceIds = new ArrayList<>();
        for (int i = 0; c.get("llm.gateway.discovery.service-ids[" + i + "]") != null; i++) {
            serviceIds.add(c.get("llm.gateway.discovery.service-ids[" + i + "]"));
        }
        assertThat(serviceIds).as("llm.gateway.discovery.service-ids").isNotEmpty();
        for (String id : serviceIds) {
            Service s = m.get(Service.class, id);
            assertThat(s).as("discovery service id %s is a Service", id).isNotNull();
            assertThat(m.selectedBy(s.getSpec().getSelector())).as("Service %s selects the inference pods", id)
                    .allMatch(w -> w.template().getSpec().getContainers().stream()
                            .anyMatch(ct -> "inference-service".equals(Repo.moduleOfImage(ct.getImage()))))
                    .isNotEmpty();
        }
        String account = gateway.workload().template().getSpec().getServiceAccountName();
        assertThat(account).as("the gateway runs under its own ServiceAccount").isNotBlank().isNotEqualTo("default");
        List<PolicyRule> rules = new ArrayList<>();
        for (RoleBinding rb : m.all(RoleBinding.class)) {
            boolean bound = rb.getSubjects().stream().anyMatch(s -> s.getKind().equals("ServiceAccount") && s.getName().equals(account));
            Role role = m.get(Role.class, rb.getRoleRef().getName());
            if (bound && role != null) {
                rules.addAll(role.getRules());
            }
        }
        assertThat(rules).as("ServiceAccount %s may list and watch the inference Service's endpoints", account)
                .anyMatch(r -> (r.getResources().contains("endpoints") || r.getResources().contains("endpointslices"))
                        && r.getVerbs().containsAll(List.of("get", "list", "watch")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void givesGpuPodsAGpuAndCpuPodsNone(String overlay) {
        Manifests m = manifests(overlay);
        for (OurContainer o : ourContainers(m)) {
            var resources = o.container().getResources();
            boolean gpu = resources.getLimits() != null && resources.getLimits().containsKey("nvidia.com/gpu");
            PodSpec pod = o.workload().template().getSpec();
            if (o.config().module().equals("inference-service")) {
                assertThat(o.config().get("llm.inference.backend")).as("%s: llm.inference.backend", o.where())
                        .isEqualTo(overlay.startsWith("gpu") ? "cuda" : "cpu");
            }
            if (overlay.startsWith("gpu") && o.config().module().equals("inference-service")) {
                assertThat(gpu).as("%s: limits nvidia.com/gpu", o.where()).isTrue();
                assertThat(o.container().getImage()).as("%s: the CUDA image", o.where()).endsWith("cuda");
                assertThat(pod.getNodeSelector()).as("%s: scheduled on GPU nodes", o.where()).isNotEmpty();
                assertThat(pod.getTolerations()).as("%s: tolerates the GPU nodes' taint", o.where())
                        .anyMatch(t -> "nvidia.com/gpu".equals(t.getKey()));
            } else {
                assertThat(gpu).as("%s (%s overlay): no GPU", o.where(), overlay).isFalse();
            }
        }
    }

    /**
     * A pod that splits its model over several GPUs (tensor-parallel size above 1) has one GPU per rank, the
     * environment NCCL must have (the service refuses to load without NCCL_NVLS_ENABLE=0), and a memory-backed
     * /dev/shm larger than the container runtime's 64 MB, inside its memory limit.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("overlays")
    void givesEachTensorParallelRankAGpuAndNcclWhatItNeeds(String overlay) {
        Manifests m = manifests(overlay);
        for (OurContainer o : ourContainers(m)) {
            String size = o.config().get("llm.inference.tensor-parallel-size");
            if (!o.config().module().equals("inference-service") || Integer.parseInt(size.trim()) == 1) {
                continue;
            }
            int ranks = Integer.parseInt(size.trim());
            assertThat(overlay).as("%s: the overlay names its tensor-parallel size", o.where()).isEqualTo("gpu-tp" + ranks);
            assertThat(o.config().get("llm.inference.backend")).as("%s: llm.inference.backend", o.where()).isEqualTo("cuda");
            var resources = o.container().getResources();
            assertThat(resources.getLimits().get("nvidia.com/gpu")).as("%s: limits nvidia.com/gpu = tensor-parallel size",
                    o.where()).isEqualTo(new Quantity(Integer.toString(ranks)));
            assertThat(resources.getRequests().get("nvidia.com/gpu")).as("%s: requests nvidia.com/gpu", o.where())
                    .isEqualTo(new Quantity(Integer.toString(ranks)));
            assertThat(o.config().get("llm.inference.cuda-devices")).as("%s: devices 0..N-1, as the GPU plugin numbers them",
                    o.where()).isNull();
            assertThat(m.environment(o.container())).as("%s: environment", o.where()).containsEntry("NCCL_NVLS_ENABLE", "0");

            PodSpec pod = o.workload().template().getSpec();
            var shm = o.container().getVolumeMounts().stream().filter(v -> v.getMountPath().equals("/dev/shm")).findFirst();
            assertThat(shm).as("%s: mounts a volume at /dev/shm", o.where()).isPresent();
            Volume volume = pod.getVolumes().stream().filter(v -> v.getName().equals(shm.get().getName())).findFirst()
                    .orElseThrow(() -> new AssertionError(o.where() + ": no volume " + shm.get().getName()));
            assertThat(volume.getEmptyDir()).as("%s: /dev/shm is an emptyDir", o.where()).isNotNull();
            assertThat(volume.getEmptyDir().getMedium()).as("%s: /dev/shm is memory-backed", o.where()).isEqualTo("Memory");
            Quantity shmSize = volume.getEmptyDir().getSizeLimit();
            assertThat(shmSize).as("%s: /dev/shm has a size limit (it counts against the pod's memory)", o.where()).isNotNull();
            assertThat(shmSize.getNumericalAmount()).as("%s: /dev/shm above the 64 MB default", o.where())
                    .isGreaterThan(Quantity.parse("64Mi").getNumericalAmount());
            assertThat(resources.getLimits().get("memory").getNumericalAmount())
                    .as("%s: the memory limit holds /dev/shm and more", o.where())
                    .isGreaterThan(shmSize.getNumericalAmount().multiply(java.math.BigDecimal.valueOf(4)));
        }
    }
}
