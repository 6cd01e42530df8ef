package dev.llmplatform.engine.cli;

import dev.llmplatform.engine.manifest.ArtifactDirectory;
import dev.llmplatform.engine.manifest.Backend;
import dev.llmplatform.engine.manifest.EngineManifest;
import dev.llmplatform.engine.manifest.Quantization;
import dev.llmplatform.engine.registry.ModelReference;
import dev.llmplatform.engine.registry.ModelSummary;
import dev.llmplatform.engine.registry.PullResult;
import dev.llmplatform.engine.registry.PushResult;
import dev.llmplatform.engine.registry.RegistryClient;
import dev.llmplatform.engine.registry.RolloutState;
import dev.llmplatform.engine.registry.VersionInfo;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.PropertyNamingStrategies;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code engine registry ...}: the model registry's command-line client. Push a checkpoint (or built engine)
 * directory as a new version, list models and versions, pull {@code model@version|stable|canary|latest} with digest
 * verification, and drive a rollout. The registry's address and token come from {@code --registry} and
 * {@code --token}, or the environment ({@code LLM_REGISTRY_URL}, {@code LLM_REGISTRY_TOKEN}), which keeps the token
 * out of the process list.
 */
@Command(name = "registry", mixinStandardHelpOptions = true,
        description = "Push, list, pull and roll out engine versions in the model registry.",
        subcommands = {RegistryCommand.Push.class, RegistryCommand.ListModels.class, RegistryCommand.Pull.class,
                RegistryCommand.Rollout.class})
final class RegistryCommand {
    // snake_case, as the registry's own API spells its fields.
    private static final JsonMapper JSON = JsonMapper.builder().propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE).build();

    /** Where the registry is and who we are. */
    static final class Connection {
        @Option(names = "--registry", paramLabel = "URL", defaultValue = "${env:LLM_REGISTRY_URL:-http://localhost:8080}",
                description = "Registry base URL (default: $LLM_REGISTRY_URL or ${DEFAULT-VALUE}).")
        URI url;

        @Option(names = "--token", paramLabel = "TOKEN", defaultValue = "${env:LLM_REGISTRY_TOKEN}",
                description = "Bearer token (default: $LLM_REGISTRY_TOKEN). Writes need an admin token.")
        String token;

        @Option(names = "--json", description = "Print the result as JSON.")
        boolean json;

        @Option(names = "--debug", description = "Print stack traces on errors.")
        boolean debug;

        RegistryClient client() {
            return new RegistryClient(url, token);
        }

        void print(Object result, String text) {
            System.out.println(json ? JSON.writeValueAsString(result) : text);
        }
    }

    @Command(name = "push", mixinStandardHelpOptions = true,
            description = "Push a checkpoint directory as the next version of a model (sha256s and the manifest are computed here; "
                    + "a directory with its own engine-manifest.json is pushed as that manifest describes it).")
    static final class Push implements Callable<Integer> {
        @Mixin
        Connection connection;

        @Parameters(index = "0", paramLabel = "DIR", description = "The checkpoint or engine directory.")
        Path dir;

        @Option(names = "--name", required = true, description = "Model name in the registry, e.g. kjv-demo.")
        String name;

        @Option(names = "--source-name", description = "Source checkpoint name (default: the directory's name).")
        String sourceName;

        @Option(names = "--backend", defaultValue = "cpu", description = "cpu, cuda or tensorrt (default ${DEFAULT-VALUE}).")
        String backend;

        @Option(names = "--dtype", description = "f32, f16 or bf16 (default: config.json's dtype).")
        String dtype;

        @Option(names = "--quantization", defaultValue = "none", description = "Method: none, int8, int4, awq, gptq, fp8, ...")
        String quantMethod;

        @Option(names = "--bits", description = "Bits per quantized value.")
        Integer bits;

        @Option(names = "--group-size", description = "Values sharing one quantization scale.")
        Integer groupSize;

        @Option(names = "--quantized", split = ",", paramLabel = "weights,activations,kv_cache",
                description = "What is quantized (with --quantization other than none; default: weights).")
        List<String> quantized;

        @Option(names = "--target-hardware", defaultValue = "any", description = "e.g. sm_90 (default ${DEFAULT-VALUE}).")
        String targetHardware;

        @Option(names = "--tensor-parallel-size", defaultValue = "1")
        int tensorParallelSize;

        @Override
        public Integer call() throws Exception {
            List<String> what = quantized != null ? quantized : quantMethod.equals("none") ? List.of() : List.of("weights");
            for (String w : what) {
                if (!List.of("weights", "activations", "kv_cache").contains(w)) {
                    throw new IllegalArgumentException("--quantized takes weights, activations or kv_cache, not '" + w + "'");
                }
            }
            Quantization q = quantMethod.equals("none") && bits == null && groupSize == null ? Quantization.NONE
                    : new Quantization(quantMethod, bits, groupSize, what.contains("weights"), what.contains("activations"),
                    what.contains("kv_cache"));
            ArtifactDirectory.Description d = new ArtifactDirectory.Description(sourceName, Backend.parse(backend), dtype, q,
                    targetHardware, tensorParallelSize, EngineCli.class.getAnnotation(Command.class).version()[0]);
            EngineManifest manifest = RegistryClient.manifestFor(dir, d);
            long start = System.nanoTime();
            PushResult r = connection.client().push(dir, name, manifest);
            connection.print(r, String.format("pushed %s@%d (%d files, %,d bytes, %.1f s)", r.model(), r.version(), r.files(),
                    r.bytes(), (System.nanoTime() - start) / 1e9));
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List models, or a model's versions.")
    static final class ListModels implements Callable<Integer> {
        @Mixin
        Connection connection;

        @Parameters(index = "0", arity = "0..1", paramLabel = "MODEL", description = "List this model's versions.")
        String model;

        @Override
        public Integer call() throws Exception {
            RegistryClient client = connection.client();
            if (model == null) {
                List<ModelSummary> models = client.models();
                StringBuilder text = new StringBuilder("MODEL\tLATEST\n");
                models.forEach(m -> text.append(m.name()).append('\t').append(m.latestVersion()).append('\n'));
                connection.print(models, text.toString().strip());
            } else {
                List<VersionInfo> versions = client.versions(model);
                StringBuilder text = new StringBuilder("VERSION\tBACKEND\tDTYPE\tQUANT\tTARGET\tFILES\tBYTES\tCREATED\n");
                versions.forEach(v -> text.append(v.version()).append('\t').append(v.backend()).append('\t').append(v.dtype())
                        .append('\t').append(v.quantization()).append('\t').append(v.targetHardware()).append('\t')
                        .append(v.fileCount()).append('\t').append(v.totalSize()).append('\t').append(v.createdAt()).append('\n'));
                connection.print(versions, text.toString().strip());
            }
            return 0;
        }
    }

    @Command(name = "pull", mixinStandardHelpOptions = true,
            description = "Download MODEL@VERSION|stable|canary|latest into a directory, verifying every file's sha256 (resumes partial downloads).")
    static final class Pull implements Callable<Integer> {
        @Mixin
        Connection connection;

        @Parameters(index = "0", paramLabel = "MODEL@REF")
        String reference;

        @Option(names = "--out", required = true, paramLabel = "DIR")
        Path out;

        @Override
        public Integer call() throws Exception {
            long start = System.nanoTime();
            PullResult r = connection.client().pull(ModelReference.parse(reference), out);
            connection.print(new PullSummary(r.model(), r.version(), r.files(), r.bytesTransferred(), r.directory().toString()),
                    String.format("pulled %s@%d into %s (%d files verified, %,d bytes transferred, %.1f s)", r.model(), r.version(),
                            r.directory(), r.files(), r.bytesTransferred(), (System.nanoTime() - start) / 1e9));
            return 0;
        }

        record PullSummary(String model, int version, int files, long bytesTransferred, String directory) {
        }
    }

    @Command(name = "rollout", mixinStandardHelpOptions = true,
            description = "Show or change a model's rollout: stable version, canary version and its traffic percent.",
            subcommands = {Show.class, Start.class, Percent.class, Promote.class, Rollback.class})
    static final class Rollout {
    }

    /** Options every rollout change shares: the model, and the revision the change expects (optimistic concurrency). */
    static final class Change {
        @Mixin
        Connection connection;

        @Parameters(index = "0", paramLabel = "MODEL")
        String model;

        @Option(names = "--expect-revision", paramLabel = "N",
                description = "Fail with 409 unless the rollout is still at this revision (from 'rollout show').")
        Long expectRevision;
    }

    static String describe(RolloutState s) {
        String stable = s.stableVersion() == null ? "none" : String.valueOf(s.stableVersion());
        String canary = s.canaryVersion() == null ? "no canary" : "canary " + s.canaryVersion() + " at " + s.canaryPercent() + "%";
        return s.model() + ": stable " + stable + ", " + canary + " (revision " + s.revision() + ")";
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Print a model's rollout.")
    static final class Show implements Callable<Integer> {
        @Mixin
        Connection connection;

        @Parameters(index = "0", paramLabel = "MODEL")
        String model;

        @Override
        public Integer call() throws Exception {
            RolloutState s = connection.client().rollout(model);
            connection.print(s, describe(s));
            return 0;
        }
    }

    @Command(name = "start", mixinStandardHelpOptions = true,
            description = "Start a canary: VERSION gets PERCENT of traffic (with no stable version yet it gets all of it).")
    static final class Start implements Callable<Integer> {
        @Mixin
        Change change;

        @Option(names = "--version", required = true)
        int version;

        @Option(names = "--percent", description = "Share of traffic, 0..100 (needed once a stable version exists; "
                + "a first canary takes 100%%).")
        Integer percent;

        @Override
        public Integer call() throws Exception {
            RolloutState s = change.connection.client().startCanary(change.model, version, percent, change.expectRevision);
            change.connection.print(s, describe(s));
            return 0;
        }
    }

    @Command(name = "percent", mixinStandardHelpOptions = true, description = "Set the canary's share of traffic.")
    static final class Percent implements Callable<Integer> {
        @Mixin
        Change change;

        @Parameters(index = "1", paramLabel = "PERCENT")
        int percent;

        @Override
        public Integer call() throws Exception {
            RolloutState s = change.connection.client().setCanaryPercent(change.model, percent, change.expectRevision);
            change.connection.print(s, describe(s));
            return 0;
        }
    }

    @Command(name = "promote", mixinStandardHelpOptions = true, description = "The canary becomes the stable version.")
    static final class Promote implements Callable<Integer> {
        @Mixin
        Change change;

        @Override
        public Integer call() throws Exception {
            RolloutState s = change.connection.client().promote(change.model, change.expectRevision);
            change.connection.print(s, describe(s));
            return 0;
        }
    }

    @Command(name = "rollback", mixinStandardHelpOptions = true, description = "Remove the canary; all traffic goes to stable.")
    static final class Rollback implements Callable<Integer> {
        @Mixin
        Change change;

        @Override
        public Integer call() throws Exception {
            RolloutState s = change.connection.client().rollback(change.model, change.expectRevision);
            change.connection.print(s, describe(s));
            return 0;
        }
    }
}
