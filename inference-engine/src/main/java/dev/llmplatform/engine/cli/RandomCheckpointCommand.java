package dev.llmplatform.engine.cli;

import dev.llmplatform.engine.model.DType;
import dev.llmplatform.engine.model.ModelShape;
import dev.llmplatform.engine.model.RandomCheckpoint;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Writes a randomly initialised checkpoint of a real model's shape, for measuring speed without downloads. */
@Command(name = "random-checkpoint", mixinStandardHelpOptions = true,
        description = "Write a random checkpoint of a known model shape (llama-1b, llama-3b, llama-7b, llama-8b, mistral-7b, qwen2-0.5b, gpt2).")
final class RandomCheckpointCommand implements Callable<Integer> {
    @Option(names = "--shape", required = true, description = "Model shape, e.g. llama-1b (Llama-3.2-1B).")
    String shape;

    @Option(names = "--dtype", defaultValue = "bf16", description = "f32, f16 or bf16 (default ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--seed", defaultValue = "0")
    long seed;

    @Option(names = "--out", required = true, paramLabel = "DIR")
    Path out;

    @Override
    public Integer call() throws Exception {
        ModelShape s = ModelShape.named(shape);
        DType dt = DType.parse(dtype);
        long start = System.nanoTime();
        RandomCheckpoint.write(s, dt, seed, out);
        System.err.printf("wrote %s (%,d parameters, %s) to %s in %.1f s%n", s.name(), s.parameterCount(), dt, out,
                (System.nanoTime() - start) / 1e9);
        return 0;
    }
}
