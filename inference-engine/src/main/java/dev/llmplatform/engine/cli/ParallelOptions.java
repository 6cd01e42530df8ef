package dev.llmplatform.engine.cli;

import picocli.CommandLine.Option;

/** The tensor-parallel size of the commands that run a model through its runner. */
final class ParallelOptions {
    @Option(names = "--tp", defaultValue = "0", paramLabel = "N",
            description = "Tensor-parallel size: split the model over N ranks sharing the threads (default: 1, or the size an engine was built for).")
    int tensorParallelSize;
}
