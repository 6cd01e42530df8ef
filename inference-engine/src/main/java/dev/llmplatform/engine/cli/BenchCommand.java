package dev.llmplatform.engine.cli;

import dev.llmplatform.engine.Engine;
import dev.llmplatform.engine.arch.Batch;
import dev.llmplatform.engine.arch.ModelRunner;
import dev.llmplatform.engine.cpu.KvBlockPool;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.runtime.Generator;
import dev.llmplatform.engine.runtime.Sampler;
import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Measures prefill and decode throughput on random prompt ids: B sequences of P prompt tokens, then G decode
 * steps of one token per sequence (one forward pass for the whole batch per step). A warm-up run lets the JIT
 * compile the kernels first. Reports tokens/s, the weight bytes one decode step reads, the read rate that implies
 * (compare with {@code bandwidth}), and heap bytes allocated per decode step.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Measure prefill and decode tokens/s.")
final class BenchCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Mixin
    ParallelOptions parallelOptions;

    @Option(names = "--prompt-len", defaultValue = "128", paramLabel = "P")
    int promptLen;

    @Option(names = "--gen-len", defaultValue = "32", paramLabel = "G")
    int genLen;

    @Option(names = "--batch", defaultValue = "1", paramLabel = "B")
    int batchSize;

    @Option(names = "--repeat", defaultValue = "3", description = "Measured runs; the best is reported (default ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--bandwidth", paramLabel = "GB/s", description = "Memory read bandwidth to compare decode against (see the bandwidth command).")
    Double bandwidth;

    @Option(names = "--json", description = "Print the results as one JSON object.")
    boolean json;

    private record Run(double prefillSeconds, double decodeSeconds, long decodeAllocatedBytes) {
    }

    @Override
    public Integer call() throws Exception {
        if (promptLen < 1 || genLen < 1 || batchSize < 1 || repeat < 1) {
            throw new IllegalArgumentException("--prompt-len, --gen-len, --batch and --repeat must be at least 1");
        }
        try (Engine engine = Engine.load(modelOptions.model, modelOptions.threads, parallelOptions.tensorParallelSize)) {
            ModelRunner model = engine.runner();
            if (promptLen + genLen > model.contextLength()) {
                throw new IllegalArgumentException("--prompt-len + --gen-len = " + (promptLen + genLen)
                        + " exceeds the context length " + model.contextLength());
            }
            run(model, Math.min(promptLen, 64), Math.min(genLen, 8)); // warm-up: JIT-compile the kernels
            Run best = null;
            for (int i = 0; i < repeat; i++) {
                Run r = run(model, promptLen, genLen);
                if (best == null || r.decodeSeconds() < best.decodeSeconds()) {
                    best = new Run(best == null ? r.prefillSeconds() : Math.min(best.prefillSeconds(), r.prefillSeconds()),
                            r.decodeSeconds(), r.decodeAllocatedBytes());
                } else {
                    best = new Run(Math.min(best.prefillSeconds(), r.prefillSeconds()), best.decodeSeconds(), best.decodeAllocatedBytes());
                }
            }
            report(engine, best);
        }
        return 0;
    }

    private Run run(ModelRunner model, int p, int g) {
        int vocab = model.vocabSize();
        SplittableRandom random = new SplittableRandom(42);
        KvCache[] caches = new KvCache[batchSize];
        int[][] prompts = new int[batchSize][p];
        KvBlockPool pool = model.newKvPool(16, batchSize * ((p + g + 15) / 16));
        for (int b = 0; b < batchSize; b++) {
            caches[b] = model.newCache(pool);
            caches[b].preallocate(p + g);
            for (int i = 0; i < p; i++) {
                prompts[b][i] = random.nextInt(vocab);
            }
        }
        float[] logits = new float[batchSize * vocab];
        Batch batch = new Batch(Math.max(batchSize, Generator.PREFILL_CHUNK));
        int[] next = new int[batchSize];
        long t0 = System.nanoTime();
        for (int b = 0; b < batchSize; b++) {
            for (int from = 0; from < p; from += Generator.PREFILL_CHUNK) {
                int to = Math.min(p, from + Generator.PREFILL_CHUNK);
                model.forward(batch.clear().addSequence(prompts[b], from, to, from, caches[b], false), logits);
            }
            next[b] = Sampler.argmax(logits, 0, vocab);
        }
        long t1 = System.nanoTime();
        long alloc0 = allocatedBytes();
        for (int step = 0; step < g; step++) {
            batch.clear();
            for (int b = 0; b < batchSize; b++) {
                batch.add(next[b], p + step, caches[b], true);
            }
            model.forward(batch, logits);
            for (int b = 0; b < batchSize; b++) {
                next[b] = Sampler.argmax(logits, b * vocab, vocab);
            }
        }
        long t2 = System.nanoTime();
        long alloc = allocatedBytes() - alloc0;
        return new Run((t1 - t0) / 1e9, (t2 - t1) / 1e9, alloc);
    }

    private static long allocatedBytes() {
        var bean = ManagementFactory.getThreadMXBean();
        if (bean instanceof com.sun.management.ThreadMXBean sun && sun.isThreadAllocatedMemoryEnabled()) {
            return sun.getTotalThreadAllocatedBytes();
        }
        return -1;
    }

    private void report(Engine engine, Run r) {
        ModelRunner model = engine.runner();
        int threads = modelOptions.threads > 0 ? modelOptions.threads : WorkerPool.defaultThreads();
        double prefillTps = (double) batchSize * promptLen / r.prefillSeconds();
        double decodeTps = (double) batchSize * genLen / r.decodeSeconds();
        double stepsPerSecond = genLen / r.decodeSeconds();
        long weightBytes = engine.weightBytesPerToken();
        double readGbs = weightBytes * stepsPerSecond / 1e9;
        long allocPerStep = r.decodeAllocatedBytes() < 0 ? -1 : r.decodeAllocatedBytes() / genLen;
        if (json) {
            var o = tools.jackson.databind.json.JsonMapper.builder().build().createObjectNode();
            o.put("model", model.name());
            o.put("threads", threads);
            o.put("tensor_parallel_size", engine.tensorParallelSize());
            o.put("batch", batchSize);
            o.put("prompt_len", promptLen);
            o.put("gen_len", genLen);
            o.put("prefill_tokens_per_s", prefillTps);
            o.put("decode_tokens_per_s", decodeTps);
            o.put("decode_ms_per_step", 1000.0 / stepsPerSecond);
            o.put("weight_bytes_per_step", weightBytes);
            o.put("weight_bytes_per_step_per_rank", engine.weightBytesPerTokenPerRank());
            o.put("decode_weight_read_gb_per_s", readGbs);
            if (bandwidth != null) {
                o.put("fraction_of_bandwidth", readGbs / bandwidth);
            }
            o.put("decode_heap_bytes_per_step", allocPerStep);
            System.out.println(o);
            return;
        }
        System.out.printf("model %s, %d threads, tensor-parallel size %d, batch %d, prompt %d, gen %d%n", model.name(),
                threads, engine.tensorParallelSize(), batchSize, promptLen, genLen);
        System.out.printf("prefill: %.1f tokens/s%n", prefillTps);
        System.out.printf("decode:  %.2f tokens/s (%.1f ms per step)%n", decodeTps, 1000.0 / stepsPerSecond);
        System.out.printf("weights read per step: %.3f GB -> %.2f GB/s%s%n", weightBytes / 1e9, readGbs,
                bandwidth == null ? "" : String.format(" = %.0f%% of %.1f GB/s", 100 * readGbs / bandwidth, bandwidth));
        System.out.printf("heap allocated per decode step: %d bytes%n", allocPerStep);
    }
}
