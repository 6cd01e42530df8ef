package dev.llmplatform.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The services' Dockerfiles, checked against the repository they build from: what they copy exists and is in the
 * build context, the Maven reactor they run is complete, and the port, health check and user agree with the
 * service's own configuration. No Docker engine is needed.
 */
class DockerfilesTest {
    private static final Pattern LOCAL_URL = Pattern.compile("https?://(?:127\\.0\\.0\\.1|localhost):(\\d+)(/[^\\s\"'|;&]*)");
    private static final Pattern PROJECTS = Pattern.compile("(?:-pl|--projects)[ =]([\\w,.-]+)");

    static Stream<String> dockerfiles() {
        return Repo.DOCKERFILES.stream();
    }

    @Test
    void checksEveryDockerfileOfTheModules() throws java.io.IOException {
        List<String> found = new ArrayList<>();
        for (String module : Reactor.modules()) {
            try (Stream<java.nio.file.Path> files = Files.list(Repo.path(module))) {
                files.map(f -> f.getFileName().toString()).filter(f -> f.startsWith("Dockerfile"))
                        .forEach(f -> found.add(module + "/" + f));
            }
        }
        assertThat(Repo.DOCKERFILES).as("Repo.DOCKERFILES, the Dockerfiles these checks read").containsExactlyInAnyOrderElementsOf(found);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dockerfiles")
    void buildsInStagesAndRunsOnTheSmallImageAsAnotherUserThanRoot(String path) {
        Dockerfile d = Dockerfile.read(path);
        assertThat(d.stages()).as("%s: a build stage and a runtime stage", path).hasSizeGreaterThanOrEqualTo(2);
        Dockerfile.Instruction user = d.finalStage().last("USER");
        assertThat(user).as("%s: the final stage names a USER", path).isNotNull();
        String name = user.operands().getFirst().split(":")[0];
        assertThat(name).as("%s line %d: USER", path, user.line()).isNotIn("root", "0");
        assertThat(d.finalStage().all("COPY")).as("%s: the runtime stage copies the build's output", path)
                .anyMatch(c -> c.flag("from") != null);
        assertThat(d.finalStage().all("RUN")).as("%s: the runtime stage does not build", path)
                .noneMatch(r -> r.arguments().contains("mvnw"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dockerfiles")
    void exposesTheServicePortAndChecksHealthOnARealActuatorPath(String path) {
        Dockerfile d = Dockerfile.read(path);
        SpringConfig config = SpringConfig.of(d.module());
        List<Integer> exposed = d.finalStage().all("EXPOSE").stream()
                .flatMap(e -> e.operands().stream()).map(p -> Integer.parseInt(p.split("/")[0])).toList();
        assertThat(exposed).as("%s: EXPOSE (the service listens on %d)", path, config.serverPort())
                .containsExactly(config.serverPort());

        Dockerfile.Instruction health = d.finalStage().last("HEALTHCHECK");
        assertThat(health).as("%s: HEALTHCHECK", path).isNotNull();
        Matcher url = LOCAL_URL.matcher(health.arguments());
        assertThat(url.find()).as("%s line %d: the health check calls the service on loopback: %s", path, health.line(),
                health.arguments()).isTrue();
        assertThat(Integer.parseInt(url.group(1))).as("%s: health check port", path).isEqualTo(config.managementPort());
        assertThat(url.group(2)).as("%s: health check path (%s answers %s)", path, d.module(), config.healthPaths(false))
                .isIn(config.healthPaths(false));
        if (health.arguments().contains("curl")) {
            assertThat(d.finalStage().all("RUN")).as("%s: curl is installed for the health check", path)
                    .anyMatch(r -> r.arguments().matches("(?s).*apt-get install[^&]*\\bcurl\\b.*"));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dockerfiles")
    void copiesOnlyWhatExistsInTheBuildContext(String path) {
        Dockerfile d = Dockerfile.read(path);
        DockerIgnore ignore = new DockerIgnore();
        List<String> problems = new ArrayList<>();
        for (Dockerfile.Stage stage : d.stages()) {
            for (Dockerfile.Instruction i : Stream.concat(stage.all("COPY").stream(), stage.all("ADD").stream()).toList()) {
                if (i.flag("from") != null) {
                    continue;
                }
                List<String> operands = i.operands();
                for (String source : operands.subList(0, operands.size() - 1)) {
                    if (!Files.exists(Repo.path(source))) {
                        problems.add("line " + i.line() + ": " + source + " does not exist");
                    } else if (ignore.excludes(source)) {
                        problems.add("line " + i.line() + ": " + source + " is excluded by .dockerignore");
                    }
                }
            }
        }
        assertThat(problems).as(path).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dockerfiles")
    void givesMavenTheWholeReactorAndTheSourcesOfEveryModuleItBuilds(String path) {
        Dockerfile d = Dockerfile.read(path);
        Set<String> copied = new java.util.HashSet<>();
        for (Dockerfile.Stage stage : d.stages()) {
            for (Dockerfile.Instruction copy : stage.all("COPY")) {
                if (copy.flag("from") == null) {
                    List<String> operands = copy.operands();
                    operands.subList(0, operands.size() - 1).forEach(s -> copied.add(s.replaceAll("/+$", "")));
                }
            }
        }
        assertThat(copied).as("%s: the wrapper and the parent pom", path).contains("mvnw", ".mvn", "pom.xml");
        for (String module : Reactor.modules()) {
            assertThat(copied.contains(module) || copied.contains(module + "/pom.xml"))
                    .as("%s: Maven refuses a reactor without %s/pom.xml (listed in the parent pom)", path, module).isTrue();
        }
        Dockerfile.Stage buildStage = d.stages().stream()
                .filter(s -> s.all("RUN").stream().anyMatch(r -> r.arguments().contains("mvnw"))).findFirst().orElse(null);
        assertThat(buildStage).as("%s: a stage runs the Maven wrapper", path).isNotNull();
        String build = buildStage.all("RUN").stream().map(Dockerfile.Instruction::arguments)
                .filter(a -> a.contains("mvnw")).findFirst().orElseThrow();
        Matcher projects = PROJECTS.matcher(build);
        assertThat(projects.find()).as("%s: the build names its modules with -pl", path).isTrue();
        assertThat(build).as("%s: -am builds the modules it depends on", path).contains("-am");
        Set<String> needed = new java.util.LinkedHashSet<>();
        for (String module : projects.group(1).split(",")) {
            needed.add(module);
            needed.addAll(Reactor.alsoMade(module));
        }
        assertThat(needed).as("%s builds %s", path, d.module()).contains(d.module());
        for (String module : needed) {
            assertThat(copied.contains(module) || copied.contains(module + "/src"))
                    .as("%s: -am builds %s, whose sources are not copied", path, module).isTrue();
        }
        if (needed.contains("native-kernels")) {
            // native-kernels runs nvcc unless told not to: only NVIDIA's devel images have it.
            boolean hasNvcc = buildStage.from().startsWith("nvidia/cuda:") && buildStage.from().contains("devel");
            assertThat(build.contains("-Dnvcc.skip=true")).as("%s: builds native-kernels on %s, %s", path,
                    buildStage.from(), hasNvcc ? "which has nvcc: the kernels must be built" : "which has no nvcc: -Dnvcc.skip=true")
                    .isEqualTo(!hasNvcc);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dockerfiles")
    void runsTheCudaFlavourOnNvidiasRuntimeWithTheCudaBackend(String path) {
        if (!path.endsWith(".cuda")) {
            return;
        }
        Dockerfile d = Dockerfile.read(path);
        assertThat(d.finalStage().from()).as("%s: runs on NVIDIA's CUDA runtime image", path)
                .startsWith("nvidia/cuda:").contains("runtime");
        SpringConfig config = SpringConfig.of(d.module());
        assertThat(config.get("llm.inference.backend")).as("%s: llm.inference.backend is a property of %s", path, d.module())
                .isNotNull();
        assertThat(d.finalStage().all("ENV")).as("%s: sets llm.inference.backend=cuda", path)
                .anyMatch(e -> e.arguments().matches("(?s).*\\bLLM_INFERENCE_BACKEND=\"?cuda\\b.*"));
        // Tensor parallelism over NCCL: the service refuses to split a model without NCCL_NVLS_ENABLE=0, and NCCL
        // itself is a shared library the image must hold (the build checks that the loader finds it).
        assertThat(d.finalStage().all("ENV")).as("%s: sets NCCL_NVLS_ENABLE=0", path)
                .anyMatch(e -> e.arguments().matches("(?s).*\\bNCCL_NVLS_ENABLE=\"?0\"?(\\s.*)?"));
        assertThat(d.finalStage().all("RUN")).as("%s: fails the build unless libnccl.so.2 is found", path)
                .anyMatch(r -> r.arguments().contains("ldconfig -p | grep -q 'libnccl\\.so\\.2 '")
                        && r.arguments().contains("libnccl2"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dockerfiles")
    void runsTheInferenceServiceWithTheVectorApiAndTheModelItsConfigurationNames(String path) {
        Dockerfile d = Dockerfile.read(path);
        if (!d.module().equals("inference-service")) {
            return;
        }
        List<String> entrypoint = d.finalStage().last("ENTRYPOINT").words();
        assertThat(String.join(" ", entrypoint)).as("%s: the engine's kernels need the incubating Vector API", path)
                .contains("--add-modules jdk.incubator.vector");
        // llm.inference.model is a path relative to the working directory: the image must have it there.
        String model = SpringConfig.of("inference-service").get("llm.inference.model");
        String workdir = d.finalStage().last("WORKDIR").operands().getFirst().replaceAll("/+$", "");
        assertThat(d.finalStage().all("COPY")).as("%s: copies %s into %s", path, model, workdir)
                .anyMatch(c -> {
                    List<String> o = c.operands();
                    String dest = o.getLast().replaceAll("/+$", "");
                    String resolved = dest.startsWith("/") ? dest : workdir + "/" + dest;
                    return c.flag("from") == null && o.getFirst().replaceAll("/+$", "").equals(model)
                            && resolved.equals(workdir + "/" + model);
                });
    }
}
