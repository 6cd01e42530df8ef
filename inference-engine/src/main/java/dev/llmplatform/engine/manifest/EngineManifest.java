package dev.llmplatform.engine.manifest;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What a built engine is: the source checkpoint it came from, the architecture, the backend and precision it was
 * built for, its quantization, target hardware and tensor-parallel degree, the builder that made it, and every file
 * with its size and sha256. Written beside the files as {@value #FILE_NAME}; the model registry stores one per
 * version, and clients verify downloads against it.
 *
 * @param formatVersion      the manifest format ({@value #FORMAT_VERSION}); readers refuse newer formats
 * @param source             the checkpoint this engine was built from
 * @param architecture       the Hugging Face architecture class, e.g. {@code LlamaForCausalLM}
 * @param modelType          {@code config.json}'s {@code model_type}, e.g. {@code llama}
 * @param backend            where it runs: cpu, cuda, tensorrt
 * @param dtype              the precision of unquantized tensors: f32, f16, bf16
 * @param quantization       how values were quantized ({@link Quantization#NONE} for none)
 * @param targetHardware     what it was built for: {@code any} (portable), or e.g. {@code sm_90}, {@code x86_64-avx512}
 * @param tensorParallelSize how many devices the weights are split across (1: not split)
 * @param builderVersion     the tool and version that wrote the artifact, e.g. {@code llm-platform engine 0.1.0}
 * @param files              every file of the artifact except the manifest itself, sorted by path
 */
@JsonPropertyOrder({"format_version", "source", "architecture", "model_type", "backend", "dtype", "quantization",
        "target_hardware", "tensor_parallel_size", "builder_version", "files"})
public record EngineManifest(@JsonProperty("format_version") int formatVersion,
                             @JsonProperty("source") SourceCheckpoint source,
                             @JsonProperty("architecture") String architecture,
                             @JsonProperty("model_type") String modelType,
                             @JsonProperty("backend") Backend backend,
                             @JsonProperty("dtype") String dtype,
                             @JsonProperty("quantization") Quantization quantization,
                             @JsonProperty("target_hardware") String targetHardware,
                             @JsonProperty("tensor_parallel_size") int tensorParallelSize,
                             @JsonProperty("builder_version") String builderVersion,
                             @JsonProperty("files") List<ManifestFile> files) {

    public static final String FILE_NAME = "engine-manifest.json";
    public static final int FORMAT_VERSION = 1;

    public EngineManifest {
        files = files == null ? List.of() : List.copyOf(files);
        quantization = quantization == null ? Quantization.NONE : quantization;
    }

    /** The sum of all file sizes, in bytes. */
    @JsonIgnore
    public long totalSize() {
        return files.stream().mapToLong(ManifestFile::size).sum();
    }

    public Optional<ManifestFile> file(String path) {
        return files.stream().filter(f -> f.path().equals(path)).findFirst();
    }

    /**
     * Checks what a reader can check without the files: required fields present, a supported format, safe and unique
     * paths, non-negative sizes, well-formed digests, sensible quantization. Throws naming the first problem.
     */
    public EngineManifest validate() {
        require(formatVersion >= 1, "format_version is missing (expected " + FORMAT_VERSION + ")");
        require(formatVersion <= FORMAT_VERSION, "format_version " + formatVersion + " is newer than this reader understands ("
                + FORMAT_VERSION + ")");
        require(source != null, "source is missing");
        require(source.name() != null && !source.name().isBlank(), "source.name is missing");
        require(FileDigests.isSha256Hex(source.sha256()), "source.sha256 must be 64 lower-case hex digits");
        require(modelType != null && !modelType.isBlank(), "model_type is missing");
        require(backend != null, "backend is missing (cpu, cuda or tensorrt)");
        require(dtype != null && !dtype.isBlank(), "dtype is missing");
        require(targetHardware != null && !targetHardware.isBlank(), "target_hardware is missing");
        require(tensorParallelSize >= 1, "tensor_parallel_size must be >= 1, got " + tensorParallelSize);
        require(builderVersion != null && !builderVersion.isBlank(), "builder_version is missing");
        require(quantization.method() != null && !quantization.method().isBlank(), "quantization.method is missing");
        require(quantization.bits() == null || (quantization.bits() >= 1 && quantization.bits() <= 32),
                "quantization.bits must be 1..32, got " + quantization.bits());
        require(quantization.groupSize() == null || quantization.groupSize() >= 1,
                "quantization.group_size must be >= 1, got " + quantization.groupSize());
        require(!quantization.isNone() || !(quantization.weights() || quantization.activations() || quantization.kvCache()),
                "quantization.method is none but weights, activations or kv_cache is marked quantized");
        require(!files.isEmpty(), "files is empty");
        Set<String> seen = new HashSet<>();
        for (ManifestFile f : files) {
            ArtifactPaths.check(f.path());
            require(!f.path().equals(FILE_NAME), "files lists " + FILE_NAME + " itself");
            require(seen.add(f.path()), "file '" + f.path() + "' is listed twice");
            require(f.size() >= 0, "file '" + f.path() + "' has a negative size " + f.size());
            require(FileDigests.isSha256Hex(f.sha256()), "file '" + f.path() + "' sha256 must be 64 lower-case hex digits");
        }
        for (String p : seen) {
            // A file and a directory of the same name cannot both exist once the artifact is written out.
            for (int i = p.indexOf('/'); i > 0; i = p.indexOf('/', i + 1)) {
                require(!seen.contains(p.substring(0, i)), "'" + p.substring(0, i) + "' is both a file and a directory");
            }
        }
        return this;
    }

    private static void require(boolean ok, String problem) {
        if (!ok) {
            throw new ManifestException("engine manifest: " + problem);
        }
    }
}
