package dev.llmplatform.registry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llmplatform.engine.cli.EngineCli;
import dev.llmplatform.engine.manifest.ArtifactDirectory;
import dev.llmplatform.engine.manifest.EngineManifest;
import dev.llmplatform.engine.manifest.FileDigests;
import dev.llmplatform.engine.manifest.ManifestFile;
import dev.llmplatform.engine.manifest.ManifestJson;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The bundled demo model through the engine's real command line ({@code engine registry ...}) against the running
 * registry: push, list, pull by number, stable and canary, and a whole rollout.
 */
class RegistryCliEndToEndTest extends RegistryTestBase {
    private static final Path KJV = Path.of(System.getProperty("kjv.demo.dir", "../models/kjv-demo"));
    private static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    Path tmp;

    record Run(int status, String out, String err) {
        /** The command's JSON line (the registry runs in this JVM, so its log lines share stdout). */
        JsonNode json() {
            return JSON.readTree(out.lines().filter(l -> l.startsWith("{") || l.startsWith("[")).reduce((a, b) -> b)
                    .orElseThrow(() -> new AssertionError("no JSON in: " + out)));
        }
    }

    private synchronized Run engine(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--registry", url(), "--token", ADMIN_TOKEN));
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int status = EngineCli.run(all.toArray(String[]::new));
            return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    private static void assertSameFiles(Path source, Path pulled) throws Exception {
        EngineManifest m = ManifestJson.read(pulled);
        ArtifactDirectory.verify(m, pulled);
        for (ManifestFile f : m.files()) {
            assertThat(FileDigests.sha256(pulled.resolve(f.path()))).isEqualTo(FileDigests.sha256(source.resolve(f.path())));
        }
        assertThat(m.files()).hasSize(ArtifactDirectory.scan(source).size());
    }

    @Test
    void shouldPushListPullAndRollOutTheBundledModelThroughTheCommandLine() throws Exception {
        Run push = engine("registry", "push", KJV.toString(), "--name", "kjv-demo", "--json");
        assertThat(push.status()).as(push.err()).isZero();
        assertThat(push.json().get("version").asInt()).isEqualTo(1);
        assertThat(push.json().get("files").asInt()).isEqualTo(7);

        Run list = engine("registry", "list");
        assertThat(list.status()).as(list.err()).isZero();
        assertThat(list.out()).contains("kjv-demo\t1");
        Run versions = engine("registry", "list", "kjv-demo");
        assertThat(versions.out()).contains("1\tcpu\tbf16\tnone\tany\t7\t");

        Path byNumber = tmp.resolve("v1");
        Run pull = engine("registry", "pull", "kjv-demo@1", "--out", byNumber.toString());
        assertThat(pull.status()).as(pull.err()).isZero();
        assertThat(pull.out()).contains("pulled kjv-demo@1").contains("7 files verified");
        assertSameFiles(KJV, byNumber);
        assertThat(ManifestJson.read(byNumber).source().name()).isEqualTo("kjv-demo");
        assertThat(ManifestJson.read(byNumber).modelType()).isEqualTo("llama");

        Run again = engine("registry", "pull", "kjv-demo@1", "--out", byNumber.toString(), "--json");
        assertThat(again.json().get("bytes_transferred").asLong()).as("verified files are not fetched twice").isZero();

        Run noStable = engine("registry", "pull", "kjv-demo@stable", "--out", tmp.resolve("none").toString());
        assertThat(noStable.status()).isEqualTo(2);
        assertThat(noStable.err()).startsWith("error: ").contains("no stable version");

        assertThat(engine("registry", "rollout", "start", "kjv-demo", "--version", "1").out())
                .contains("kjv-demo: stable none, canary 1 at 100% (revision 1)");
        assertThat(engine("registry", "rollout", "promote", "kjv-demo", "--expect-revision", "1").out())
                .contains("stable 1, no canary (revision 2)");
        Path stable = tmp.resolve("stable");
        assertThat(engine("registry", "pull", "kjv-demo@stable", "--out", stable.toString()).status()).isZero();
        assertSameFiles(KJV, stable);

        // A second version (a "build" of the same checkpoint), canaried, adjusted, then rolled back.
        Run push2 = engine("registry", "push", KJV.toString(), "--name", "kjv-demo", "--target-hardware", "x86_64-avx512",
                "--quantization", "int8", "--bits", "8", "--group-size", "64", "--quantized", "weights,kv_cache", "--json");
        assertThat(push2.status()).as(push2.err()).isZero();
        assertThat(push2.json().get("version").asInt()).isEqualTo(2);
        assertThat(engine("registry", "rollout", "start", "kjv-demo", "--version", "2", "--percent", "20").out())
                .contains("canary 2 at 20%");
        assertThat(engine("registry", "rollout", "percent", "kjv-demo", "50").out()).contains("canary 2 at 50% (revision 4)");
        Run stale = engine("registry", "rollout", "promote", "kjv-demo", "--expect-revision", "3");
        assertThat(stale.status()).isEqualTo(2);
        assertThat(stale.err()).contains("409").contains("revision");
        Path canary = tmp.resolve("canary");
        assertThat(engine("registry", "pull", "kjv-demo@canary", "--out", canary.toString()).status()).isZero();
        EngineManifest canaryManifest = ManifestJson.read(canary);
        assertThat(canaryManifest.quantization().method()).isEqualTo("int8");
        assertThat(canaryManifest.quantization().kvCache()).isTrue();
        assertThat(canaryManifest.targetHardware()).isEqualTo("x86_64-avx512");
        Run show = engine("registry", "rollout", "rollback", "kjv-demo", "--json");
        assertThat(show.json().get("stable_version").asInt()).isEqualTo(1);
        assertThat(show.json().has("canary_version") && !show.json().get("canary_version").isNull()).isFalse();
        assertThat(engine("registry", "rollout", "show", "kjv-demo").out()).contains("stable 1, no canary (revision 5)");
    }

    @Test
    void shouldResumeAnInterruptedPullWithARangeRequest() throws Exception {
        String model = "kjv-resume";
        assertThat(engine("registry", "push", KJV.toString(), "--name", model).status()).isZero();
        Path out = tmp.resolve("resume");
        Files.createDirectories(out);
        byte[] weights = Files.readAllBytes(KJV.resolve("model.safetensors"));
        Files.write(out.resolve(".model.safetensors.part"), java.util.Arrays.copyOf(weights, 5_000_000));
        Run pull = engine("registry", "pull", model + "@latest", "--out", out.toString(), "--json");
        assertThat(pull.status()).as(pull.err()).isZero();
        long total = ArtifactDirectory.scan(KJV).stream().mapToLong(ManifestFile::size).sum();
        assertThat(pull.json().get("bytes_transferred").asLong()).isEqualTo(total - 5_000_000);
        assertSameFiles(KJV, out);
        assertThat(out.resolve(".model.safetensors.part")).doesNotExist();
    }
}
