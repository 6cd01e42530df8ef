package dev.llmplatform.engine.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options every model-running command shares. */
final class ModelOptions {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face checkpoint directory.")
    Path model;

    @Option(names = "--threads", paramLabel = "T", description = "Worker threads (default: all cores).")
    int threads;

    @Option(names = "--debug", description = "Print stack traces on errors.")
    boolean debug;
}
