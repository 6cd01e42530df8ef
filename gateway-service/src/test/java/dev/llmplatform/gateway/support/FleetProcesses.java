package dev.llmplatform.gateway.support;

import dev.llmplatform.testsupport.ServiceProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * How the gateway tests start the services of their fleet: the inference service and the model registry from the
 * jars the build copied into {@code target/fleet}, small (one engine thread, a 512 MB heap), each on a free port
 * with its log in {@code target/fleet-logs/NAME.log}.
 */
public final class FleetProcesses {
    private static final List<String> JVM = List.of("--add-modules", "jdk.incubator.vector",
            "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-Xmx512m");
    private static final Path LOGS = Path.of("target", "fleet-logs").toAbsolutePath();

    private FleetProcesses() {
    }

    /** The directory the fleet's jars were copied to by the build ({@code target/fleet}). */
    public static Path fleetDir() {
        return Path.of(System.getProperty("fleet.dir", "target/fleet")).toAbsolutePath();
    }

    /** The repository's root (for models/kjv-demo). */
    public static Path repoDir() {
        return Path.of(System.getProperty("repo.dir", "..")).toAbsolutePath().normalize();
    }

    /** An inference instance serving the bundled kjv-demo (or what {@code args} say) on one thread. */
    public static ServiceProcess inference(String name, String... args) {
        List<String> all = new ArrayList<>(List.of("--llm.inference.threads=1", "--llm.inference.max-running=8"));
        all.addAll(List.of(args));
        if (all.stream().noneMatch(a -> a.startsWith("--llm.inference.model="))) {
            all.add("--llm.inference.model=" + repoDir().resolve("models/kjv-demo"));
        }
        return ServiceProcess.start(name, ServiceProcess.freePort(), fleetDir().resolve("inference-service.jar"), JVM,
                all, Map.of(), LOGS);
    }

    /** A model registry on an in-memory H2 database, its blobs under target/. */
    public static ServiceProcess registry(String name, String adminToken) throws IOException {
        Path blobs = Files.createTempDirectory(Files.createDirectories(Path.of("target")), "registry-blobs-");
        return ServiceProcess.start(name, ServiceProcess.freePort(), fleetDir().resolve("model-registry-service.jar"),
                JVM, List.of("--spring.datasource.url=jdbc:h2:mem:registry;DB_CLOSE_DELAY=-1",
                        "--llm.registry.storage.filesystem.root=" + blobs.toAbsolutePath()),
                Map.of("LLM_REGISTRY_SECURITY_ADMINTOKENS_TEST", adminToken), LOGS);
    }

    /** A service of a fleet started earlier by {@link FleetLauncher}, found by its pid. */
    static ServiceProcess attach(String name, int port, long pid) {
        return ServiceProcess.attach(name, port, pid, LOGS.resolve(name + ".log"));
    }

    /** Waits until an inference instance is ready (its model loaded and warmed up). */
    public static ServiceProcess awaitReady(ServiceProcess inference) {
        return inference.awaitUp("/actuator/health/readiness", Duration.ofMinutes(3));
    }
}
