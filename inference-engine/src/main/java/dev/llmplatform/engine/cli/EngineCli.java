package dev.llmplatform.engine.cli;

import dev.llmplatform.engine.model.ModelLoadException;
import dev.llmplatform.engine.tokenizer.TokenizerException;
import java.io.IOException;
import java.io.UncheckedIOException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The engine's command line: {@code generate}, {@code logits}, {@code bench}, {@code random-checkpoint},
 * {@code bandwidth}. Errors in the user's input (a bad model directory, token ids, parameters) print one line
 * naming what is wrong and exit with status 2; {@code --debug} adds the stack trace.
 */
@Command(name = "engine", mixinStandardHelpOptions = true, version = "llm-platform engine 0.1.0",
        description = "Runs Hugging Face checkpoints on the CPU.",
        subcommands = {GenerateCommand.class, LogitsCommand.class, BenchCommand.class, ServingBenchCommand.class, RandomCheckpointCommand.class,
                BandwidthCommand.class, RegistryCommand.class, BuildCommand.class, AccuracyCommand.class})
public final class EngineCli {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String... args) {
        CommandLine cli = new CommandLine(new EngineCli());
        boolean debug = java.util.Arrays.asList(args).contains("--debug");
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            if (debug) {
                e.printStackTrace(commandLine.getErr());
            }
            commandLine.getErr().println("error: " + describe(e));
            return isUserError(e) ? 2 : 1;
        });
        return cli.execute(args);
    }

    static boolean isUserError(Throwable e) {
        return e instanceof ModelLoadException || e instanceof IllegalArgumentException || e instanceof TokenizerException
                || e instanceof IOException || e instanceof UncheckedIOException;
    }

    static String describe(Throwable e) {
        String m = e.getMessage();
        if (e instanceof java.nio.file.NoSuchFileException) {
            return "no such file: " + m;
        }
        return m == null ? e.getClass().getSimpleName() : m;
    }
}
