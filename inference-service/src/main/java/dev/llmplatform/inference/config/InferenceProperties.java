package dev.llmplatform.inference.config;

import dev.llmplatform.engine.Engine;
import jakarta.validation.Valid;
import jakarta.validation.constraints.AssertTrue;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.annotation.Validated;

/**
 * The inference service's configuration ({@code llm.inference.*}): which model it serves and how the runtime
 * schedules requests and uses memory.
 *
 * @param model              the model to serve: a Hugging Face checkpoint directory, an engine directory or a
 *                           {@code .gguf} file; or {@code registry:NAME@REF} (REF a version number, {@code stable},
 *                           {@code canary} or {@code latest}) to pull it from the model registry at startup. A relative
 *                           path is looked up from the working directory and then from each directory above it (and
 *                           above the service's jar), so the default, the bundled demo model, is found whether the
 *                           service starts from the repository root or from {@code inference-service/}.
 * @param servedModelName    the name clients pass as {@code model} and that {@code /v1/models} lists; empty for the
 *                           model directory's name (or the registry model's name)
 * @param threads            worker threads for the forward pass; 0 for all cores but a quarter, which are left to
 *                           the HTTP layer (12 of 16, 6 of 8, 2 of 2). With tensor parallelism on the CPU the ranks
 *                           share them ({@code threads / tensor-parallel-size} each, at least one)
 * @param tensorParallelSize how many ranks the model is split over (Megatron-style: whole attention heads, MLP
 *                           columns and vocabulary rows per rank, one all-reduce after the attention and MLP outputs);
 *                           1 for none. It must divide the model's attention heads and MLP width, and quantized
 *                           weights must split on group boundaries; otherwise loading fails with the numbers. An
 *                           engine built with {@code --tp N} loads at N (1 here then means "as built"). On the CPU the
 *                           ranks are threads of this process: this tests the sharding and serves the same text, but
 *                           is not faster than 1 on one machine's memory bus
 * @param backend            where the forward pass runs: {@code cpu} (the engine's Java kernels) or {@code cuda} (the
 *                           native-kernels GPU runner: every family on one GPU; llama, mistral and qwen2 also with a
 *                           tensor-parallel size N above 1 one GPU per rank, summed over NVLink or NCCL). Without the GPUs, NCCL
 *                           or {@code NCCL_NVLS_ENABLE=0}, or for another architecture, the model fails to load and
 *                           readiness reports what is missing
 * @param cudaDevices        with {@code backend=cuda} and a tensor-parallel size N above 1: the CUDA device of each
 *                           rank, N distinct ids as this process numbers them (after {@code CUDA_VISIBLE_DEVICES});
 *                           empty for 0..N-1, which is what a container given N GPUs sees. Must stay empty otherwise
 *                           (the one-GPU runner uses device 0: choose it with {@code CUDA_VISIBLE_DEVICES})
 * @param kvCacheDtype       with {@code backend=cuda}: how the GPU keeps keys and values: {@code float32} (the
 *                           default: exact, as the CPU computes), {@code bfloat16} (half the bytes decode attention
 *                           reads: faster at large batches) or {@code fp8} (E4M3 with scale 1, a quarter of the bytes,
 *                           as vLLM's {@code --kv-cache-dtype fp8} without calibrated scales: values over 448 in
 *                           magnitude saturate). The CPU backend keeps float32 and refuses the others
 * @param gpuMemoryUtilization with {@code backend=cuda} and no {@code kv-cache-size}: the KV cache takes the GPU
 *                           memory left once the weights are loaded, up to this fraction of the device (vLLM's
 *                           {@code gpu_memory_utilization}); the rest stays free for activations, logits and graphs.
 *                           With tensor parallelism it applies to the fullest GPU
 * @param maxRunning         the most requests decoded together in one batch (each choice of a request with
 *                           {@code n > 1} counts as one)
 * @param maxWaiting         the most requests admitted but not finished (running plus queued); beyond it requests are
 *                           refused with 429
 * @param maxTokensPerStep   the token budget of one forward pass: decode tokens plus chunks of prompts being prefilled
 * @param kvBlockSize        positions per KV cache block (a power of two)
 * @param kvCacheSize        memory for the KV cache (keys and values, float32, on the heap; the JVM's -Xmx must
 *                           leave room for it); empty for enough for max-running full-context sequences, capped at 40%
 *                           of the maximum heap
 * @param prefixCaching      share the KV cache of common prompt prefixes (system prompts, few-shot examples) between
 *                           requests
 * @param addBos             whether text prompts of {@code /v1/completions} get the BOS token: {@code auto} (as the
 *                           checkpoint says), {@code always} or {@code never}; chat prompts get what the chat
 *                           template writes
 * @param maxChoices         the most choices one request may ask for ({@code n} times the number of prompts)
 * @param defaultMaxTokens   completion tokens when a request names no {@code max_tokens}; 0 for the rest of the
 *                           context (as vLLM does)
 * @param warmupTimeout      how long the warm-up forward pass may take before startup is declared failed
 * @param logContent         log prompts and completions (at INFO, per request); off by default, so that logs never
 *                           hold user content. For debugging only.
 * @param registry           where {@code registry:} models come from
 */
@ConfigurationProperties("llm.inference")
@Validated
public record InferenceProperties(
        @DefaultValue("models/kjv-demo") @NotBlank String model,
        @DefaultValue("") String servedModelName,
        @DefaultValue("0") @Min(0) @Max(1024) int threads,
        @DefaultValue("1") @Min(1) @Max(64) int tensorParallelSize,
        @DefaultValue("cpu") @NotNull Backend backend,
        @DefaultValue List<@NotNull @Min(0) Integer> cudaDevices,
        @DefaultValue("float32") @NotNull KvCacheDtype kvCacheDtype,
        @DefaultValue("0.9") @DecimalMin(value = "0", inclusive = false) @DecimalMax("1") double gpuMemoryUtilization,
        @DefaultValue("16") @Min(1) @Max(4096) int maxRunning,
        @DefaultValue("256") @Min(1) int maxWaiting,
        @DefaultValue("512") @Min(1) int maxTokensPerStep,
        @DefaultValue("16") @Min(1) @Max(4096) int kvBlockSize,
        DataSize kvCacheSize,
        @DefaultValue("true") boolean prefixCaching,
        @DefaultValue("auto") @NotNull Engine.BosPolicy addBos,
        @DefaultValue("16") @Min(1) @Max(1024) int maxChoices,
        @DefaultValue("0") @Min(0) int defaultMaxTokens,
        @DefaultValue("5m") @NotNull Duration warmupTimeout,
        @DefaultValue("false") boolean logContent,
        @DefaultValue @Valid @NotNull Registry registry) {

    /** How the GPU backend stores the KV cache ({@code llm.inference.kv-cache-dtype}). */
    public enum KvCacheDtype {
        FLOAT32,
        BFLOAT16,
        FP8
    }

    @AssertTrue(message = "kv-cache-dtype bfloat16 or fp8 needs backend=cuda (the CPU backend keeps the KV cache in float32)")
    public boolean isKvCacheDtypeForTheBackend() {
        return kvCacheDtype == KvCacheDtype.FLOAT32 || backend == Backend.CUDA;
    }

    /** Where the forward pass runs ({@code llm.inference.backend}). */
    public enum Backend {
        CPU,
        CUDA
    }

    /** The prefix of {@link #model()} values that name a registry reference. */
    public static final String REGISTRY_PREFIX = "registry:";

    /**
     * The model registry client's settings (only used when {@code model} is {@code registry:NAME@REF}).
     *
     * @param url      the registry's base URL, e.g. {@code http://registry:8080}
     * @param token    a bearer token, if the registry wants one for reads
     * @param cacheDir where pulled versions are kept ({@code NAME/VERSION} below it); files already there with the
     *                 right digest are not downloaded again; empty for {@code llm-inference-models} in the system's
     *                 temporary directory
     */
    public record Registry(URI url, String token, Path cacheDir) {

        public Path cacheDirOrDefault() {
            return cacheDir != null ? cacheDir : Path.of(System.getProperty("java.io.tmpdir"), "llm-inference-models");
        }
    }

    @AssertTrue(message = "kv-block-size must be a power of two")
    public boolean isKvBlockSizePowerOfTwo() {
        return Integer.bitCount(kvBlockSize) == 1;
    }

    @AssertTrue(message = "kv-cache-size must be positive when set")
    public boolean isKvCacheSizePositive() {
        return kvCacheSize == null || kvCacheSize.toBytes() > 0;
    }

    @AssertTrue(message = "registry.url must be set when model is registry:NAME@REF")
    public boolean isRegistryUrlSetForRegistryModels() {
        return !model.startsWith(REGISTRY_PREFIX) || registry.url() != null;
    }

    /**
     * cuda-devices names one device per rank, all different, and only where it is used: a device given twice would
     * put two ranks on one GPU, which NCCL refuses; a list with the CPU backend or one GPU would be ignored.
     */
    @AssertTrue(message = "cuda-devices must be empty, or list tensor-parallel-size distinct CUDA device ids when "
            + "backend=cuda and tensor-parallel-size > 1 (e.g. llm.inference.cuda-devices=0,1 for "
            + "tensor-parallel-size=2)")
    public boolean isCudaDevicesOnePerRank() {
        if (cudaDevices.isEmpty()) {
            return true;
        }
        return backend == Backend.CUDA && tensorParallelSize > 1 && cudaDevices.size() == tensorParallelSize
                && new HashSet<>(cudaDevices).size() == cudaDevices.size();
    }

    /** The CUDA device of each tensor-parallel rank: {@link #cudaDevices()}, or 0..N-1 when it is empty. */
    public int[] rankDevices() {
        if (!cudaDevices.isEmpty()) {
            return cudaDevices.stream().mapToInt(Integer::intValue).toArray();
        }
        int[] devices = new int[tensorParallelSize];
        for (int r = 0; r < devices.length; r++) {
            devices[r] = r;
        }
        return devices;
    }

    public boolean fromRegistry() {
        return model.startsWith(REGISTRY_PREFIX);
    }
}
