package dev.llmplatform.engine.cli;

import dev.llmplatform.engine.manifest.Backend;
import dev.llmplatform.engine.manifest.EngineManifest;
import dev.llmplatform.engine.quant.EngineBuilder;
import dev.llmplatform.engine.quant.QuantMethod;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code build}: compiles a checkpoint once into an engine directory for a backend and precision (see
 * {@link EngineBuilder}). The CPU backend builds none, int8 (per-channel) and int4 (group-wise); the CUDA backend,
 * FP8 and quantized KV caches are refused until the GPU backend exists.
 */
@Command(name = "build", mixinStandardHelpOptions = true,
        description = "Build an engine directory: quantized weights, tokenizer, configs and engine-manifest.json.")
final class BuildCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face checkpoint directory.")
    Path model;

    @Option(names = "--backend", defaultValue = "cpu", paramLabel = "cpu|cuda", description = "Where the engine runs (default: ${DEFAULT-VALUE}).")
    String backend;

    @Option(names = "--quant", defaultValue = "none", paramLabel = "none|int8|int4|fp8", description = "Weight quantization (default: ${DEFAULT-VALUE}).")
    String quant;

    @Option(names = "--group-size", defaultValue = "128", paramLabel = "32|64|128", description = "Columns per int4 scale and zero point (default: ${DEFAULT-VALUE}).")
    int groupSize;

    @Option(names = "--kv-cache", paramLabel = "int8|fp8", description = "Quantized KV cache (GPU backend only).")
    String kvCache;

    @Option(names = "--target", paramLabel = "sm_90", description = "Target GPU architecture (GPU backend only).")
    String target;

    @Option(names = "--tp", defaultValue = "1", paramLabel = "N",
            description = "Tensor-parallel size: split the weights over N ranks, one weight file per rank (default: ${DEFAULT-VALUE}).")
    int tensorParallelSize;

    @Option(names = "--out", required = true, paramLabel = "ENGINE_DIR", description = "Directory to write (new or empty).")
    Path out;

    @Option(names = "--debug", description = "Print stack traces on errors.")
    boolean debug;

    @Override
    public Integer call() throws Exception {
        Backend b = Backend.parse(backend);
        if (target != null && b == Backend.CPU) {
            throw new IllegalArgumentException("--target " + target + " names a GPU architecture; the cpu backend has none");
        }
        long t0 = System.nanoTime();
        EngineManifest m = EngineBuilder.build(new EngineBuilder.Options(model, b, QuantMethod.parse(quant), groupSize, kvCache, out,
                tensorParallelSize));
        System.out.printf("built %s: %s engine, quantization %s%s%s, %d files, %.2f GB, in %.1f s%n", out, m.backend().id(),
                m.quantization().method(), m.quantization().groupSize() == null ? "" : " group " + m.quantization().groupSize(),
                m.tensorParallelSize() == 1 ? "" : ", tensor-parallel size " + m.tensorParallelSize(),
                m.files().size(), m.totalSize() / 1e9, (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
