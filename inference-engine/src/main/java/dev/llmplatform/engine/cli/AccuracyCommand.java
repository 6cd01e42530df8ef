package dev.llmplatform.engine.cli;

import dev.llmplatform.engine.Engine;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.quant.AccuracyBenchmark;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code accuracy}: mean KL divergence from a reference model, top-1 agreement and perplexity of one or more
 * (quantized) models on a text, e.g. kjv-demo's bf16 checkpoint against its int8/int4 engines and llama.cpp's
 * Q8_0/Q4_0 GGUFs over the King James text (Debian's bible-kjv-text, extracted with the {@code bible} tool).
 */
@Command(name = "accuracy", mixinStandardHelpOptions = true,
        description = "Compare quantized models' next-token distributions with a reference model's on a text.")
final class AccuracyCommand implements Callable<Integer> {
    @Option(names = "--reference", required = true, paramLabel = "DIR", description = "The reference model (e.g. the bf16 checkpoint).")
    Path reference;

    @Option(names = "--model", required = true, paramLabel = "DIR|FILE.gguf", description = "A model to compare (repeatable).")
    List<Path> models;

    @Option(names = "--text", required = true, paramLabel = "FILE", description = "UTF-8 text to score.")
    Path text;

    @Option(names = "--tokens", defaultValue = "20000", paramLabel = "N", description = "Score the first N tokens of the text (default: ${DEFAULT-VALUE}).")
    int tokens;

    @Option(names = "--window", defaultValue = "512", paramLabel = "W", description = "Positions per forward pass, BOS first (default: ${DEFAULT-VALUE}).")
    int window;

    @Option(names = "--threads", paramLabel = "T", description = "Worker threads (default: all cores).")
    int threads;

    @Option(names = "--debug", description = "Print stack traces on errors.")
    boolean debug;

    @Override
    public Integer call() throws Exception {
        List<Engine> engines = new ArrayList<>();
        try {
            Engine ref = Engine.load(reference, threads);
            engines.add(ref);
            List<DecoderModel> cands = new ArrayList<>();
            List<String> names = new ArrayList<>();
            for (Path m : models) {
                Engine e = Engine.load(m, threads);
                engines.add(e);
                cands.add(e.model());
                names.add(m.getFileName().toString());
            }
            if (window < 2 || window > ref.model().contextLength()) {
                throw new IllegalArgumentException("--window must be 2.." + ref.model().contextLength());
            }
            int[] ids = ref.requireTokenizer().encode(Files.readString(text, StandardCharsets.UTF_8), false);
            if (ids.length < tokens) {
                throw new IllegalArgumentException(text + " has " + ids.length + " tokens, fewer than --tokens " + tokens);
            }
            ids = Arrays.copyOf(ids, tokens);
            int bos = ref.requireTokenizer().specialTokens().bosId()
                    .orElseThrow(() -> new IllegalArgumentException("the reference tokenizer has no BOS token"));
            long t0 = System.nanoTime();
            List<AccuracyBenchmark.Result> results = new AccuracyBenchmark(ref.model(), names, cands).run(ids, bos, window);
            System.out.printf("%d tokens of %s, windows of %d, reference %s (%.0f s)%n", tokens, text.getFileName(), window,
                    reference.getFileName(), (System.nanoTime() - t0) / 1e9);
            System.out.printf("%-28s %10s %8s %10s%n", "model", "mean KL", "top-1", "perplexity");
            for (AccuracyBenchmark.Result r : results) {
                System.out.printf("%-28s %10.5f %7.2f%% %10.3f%n", r.name(), r.meanKl(), 100 * r.top1Agreement(), r.perplexity());
            }
        } finally {
            for (Engine e : engines) {
                e.close();
            }
        }
        return 0;
    }
}
