package dev.llmplatform.gateway.support;

import dev.llmplatform.engine.manifest.ArtifactDirectory;
import dev.llmplatform.engine.manifest.Backend;
import dev.llmplatform.engine.manifest.Quantization;
import dev.llmplatform.engine.registry.RegistryClient;
import dev.llmplatform.testsupport.ServiceProcess;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;

/**
 * The processes the gateway tests share, started once per test JVM: a model registry (H2 in memory) holding kjv-demo
 * twice (versions 1 and 2, version 1 stable), and four inference instances: {@code v1} and {@code v2} pulled from the
 * registry ({@code registry:kjv-demo@1}, {@code @2}: they report their version), {@code other}, the bundled
 * checkpoint served as {@code kjv-other}, and {@code spare}, also kjv-other, which the resilience tests pause and kill.
 * Stopped when the JVM exits.
 *
 * <p>While working on the tests, {@code FleetLauncher} starts the same fleet once and leaves it running;
 * {@code -Dgateway.fleet.reuse=true} makes the tests use it instead of starting their own.
 */
public final class TestFleet {
    public static final String ADMIN_TOKEN = "gateway-test-admin";
    public static final String MODEL = "kjv-demo";
    public static final String OTHER_MODEL = "kjv-other";
    static final Path RUNNING = Path.of("target", "fleet-running.properties");

    private static TestFleet fleet;

    public final ServiceProcess registry;
    public final ServiceProcess v1;
    public final ServiceProcess v2;
    public final ServiceProcess other;
    public final ServiceProcess spare;

    private TestFleet(ServiceProcess registry, ServiceProcess v1, ServiceProcess v2, ServiceProcess other,
                      ServiceProcess spare) {
        this.registry = registry;
        this.v1 = v1;
        this.v2 = v2;
        this.other = other;
        this.spare = spare;
    }

    public static synchronized TestFleet get() {
        if (fleet == null) {
            try {
                fleet = Boolean.getBoolean("gateway.fleet.reuse") && Files.exists(RUNNING) ? attach() : start(true);
            } catch (Exception e) {
                throw new IllegalStateException("could not start the test fleet", e);
            }
        }
        return fleet;
    }

    static TestFleet start(boolean stopAtExit) throws Exception {
        ServiceProcess registry = FleetProcesses.registry("registry", ADMIN_TOKEN);
        // The local instances start while the registry comes up; the registry ones need their versions first.
        ServiceProcess other = FleetProcesses.inference("other", "--llm.inference.served-model-name=" + OTHER_MODEL);
        ServiceProcess spare = FleetProcesses.inference("spare", "--llm.inference.served-model-name=" + OTHER_MODEL);
        if (stopAtExit) {
            stopAtExit(registry, other, spare);
        }
        registry.awaitUp("/actuator/health", Duration.ofMinutes(4));
        RegistryClient client = new RegistryClient(registry.baseUrl(), ADMIN_TOKEN);
        Path kjv = FleetProcesses.repoDir().resolve("models/kjv-demo");
        var description = new ArtifactDirectory.Description(MODEL, Backend.CPU, null, Quantization.NONE, "any", 1,
                "gateway-test");
        for (int i = 0; i < 2; i++) {
            client.push(kjv, MODEL, RegistryClient.manifestFor(kjv, description));
        }
        client.startCanary(MODEL, 1, null, null);
        client.promote(MODEL, null);
        Path cache = Files.createTempDirectory(Path.of("target"), "model-cache-");
        ServiceProcess v1 = fromRegistry("v1", registry.baseUrl(), 1, cache);
        ServiceProcess v2 = fromRegistry("v2", registry.baseUrl(), 2, cache);
        if (stopAtExit) {
            stopAtExit(v1, v2);
        }
        CompletableFuture.allOf(ready(v1), ready(v2), ready(other), ready(spare)).join();
        return new TestFleet(registry, v1, v2, other, spare);
    }

    private static void stopAtExit(ServiceProcess... processes) {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (ServiceProcess p : processes) {
                p.close();
            }
        }));
    }

    private static ServiceProcess fromRegistry(String name, URI registry, int version, Path cache) throws Exception {
        return FleetProcesses.inference(name, "--llm.inference.model=registry:" + MODEL + "@" + version,
                "--llm.inference.registry.url=" + registry,
                "--llm.inference.registry.cache-dir=" + cache.resolve(name).toAbsolutePath());
    }

    private static CompletableFuture<Void> ready(ServiceProcess p) {
        return CompletableFuture.runAsync(() -> FleetProcesses.awaitReady(p));
    }

    void save() throws IOException {
        Properties p = new Properties();
        for (ServiceProcess i : List.of(registry, v1, v2, other, spare)) {
            p.setProperty(i.name(), i.port() + ":" + i.pid());
        }
        try (Writer w = Files.newBufferedWriter(RUNNING)) {
            p.store(w, "started by FleetLauncher");
        }
    }

    private static TestFleet attach() throws Exception {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(RUNNING)) {
            p.load(r);
        }
        ServiceProcess[] found = new ServiceProcess[5];
        String[] names = {"registry", "v1", "v2", "other", "spare"};
        for (int i = 0; i < names.length; i++) {
            String[] portPid = p.getProperty(names[i]).split(":");
            long pid = Long.parseLong(portPid[1]);
            if (names[i].equals("spare") && ProcessHandle.of(pid).isEmpty()) {
                // The resilience tests kill the spare: start another.
                found[i] = FleetProcesses.awaitReady(FleetProcesses.inference("spare",
                        "--llm.inference.served-model-name=" + OTHER_MODEL));
            } else {
                found[i] = FleetProcesses.attach(names[i], Integer.parseInt(portPid[0]), pid);
            }
        }
        TestFleet f = new TestFleet(found[0], found[1], found[2], found[3], found[4]);
        f.save();
        return f;
    }

    public RegistryClient registryClient() {
        return new RegistryClient(registry.baseUrl(), ADMIN_TOKEN);
    }

    /** The three shared inference instances' base URLs (not the spare). */
    public List<URI> instances() {
        return List.of(v1.baseUrl(), v2.baseUrl(), other.baseUrl());
    }
}
