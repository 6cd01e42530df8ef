package dev.llmplatform.engine.model;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The dimensions of well-known checkpoints, for writing random checkpoints of the same shape (speed can then be
 * measured without downloading weights).
 *
 * @param ropeScaling a config.json rope_scaling object, or null
 */
public record ModelShape(String name, String modelType, int hidden, int layers, int heads, int kvHeads, int ffn,
                         int vocab, int context, double ropeTheta, boolean tied, boolean qkvBias, String ropeScaling) {

    private static final String LLAMA3_SCALING = "{\"rope_type\":\"llama3\",\"factor\":32.0,\"low_freq_factor\":1.0,"
            + "\"high_freq_factor\":4.0,\"original_max_position_embeddings\":8192}";

    public static final List<ModelShape> KNOWN = List.of(
            // Llama-3.2-1B
            new ModelShape("llama-1b", "llama", 2048, 16, 32, 8, 8192, 128256, 131072, 500000, true, false, LLAMA3_SCALING),
            // Llama-3.2-3B
            new ModelShape("llama-3b", "llama", 3072, 28, 24, 8, 8192, 128256, 131072, 500000, true, false, LLAMA3_SCALING),
            // Llama-2-7B
            new ModelShape("llama-7b", "llama", 4096, 32, 32, 32, 11008, 32000, 4096, 10000, false, false, null),
            // Llama-2-70B (140 GB in bf16: too big for one 80 GB GPU, and for writing whole as a random checkpoint on
            // the GPU machines' disks; the tensor-parallel benchmark repeats one random layer, see TpBench)
            new ModelShape("llama-70b", "llama", 8192, 80, 64, 8, 28672, 32000, 4096, 10000, false, false, null),
            // Llama-3.1-8B
            new ModelShape("llama-8b", "llama", 4096, 32, 32, 8, 14336, 128256, 131072, 500000, false, false, LLAMA3_SCALING),
            // Mistral-7B-v0.3
            new ModelShape("mistral-7b", "mistral", 4096, 32, 32, 8, 14336, 32768, 32768, 1000000, false, false, null),
            // Qwen2.5-0.5B
            new ModelShape("qwen2-0.5b", "qwen2", 896, 24, 14, 2, 4864, 151936, 32768, 1000000, true, true, null),
            // A few-layer llama for smoke tests of the tooling
            new ModelShape("llama-tiny", "llama", 128, 2, 4, 2, 352, 512, 2048, 10000, true, false, null),
            // GPT-2 (124M)
            new ModelShape("gpt2", "gpt2", 768, 12, 12, 12, 3072, 50257, 1024, 0, true, true, null));

    public static ModelShape named(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return KNOWN.stream().filter(s -> s.name.equals(n)).findFirst().orElseThrow(() -> new IllegalArgumentException(
                "unknown shape '" + name + "' (known: " + Arrays.toString(KNOWN.stream().map(ModelShape::name).toArray()) + ")"));
    }

    /** The same shape with {@code n} layers. */
    public ModelShape withLayers(int n) {
        return new ModelShape(name, modelType, hidden, n, heads, kvHeads, ffn, vocab, context, ropeTheta, tied, qkvBias, ropeScaling);
    }

    public int headDim() {
        return hidden / heads;
    }

    public long parameterCount() {
        long h = hidden;
        long kv = (long) kvHeads * headDim();
        long perLayer;
        if (modelType.equals("gpt2")) {
            perLayer = 4 * h * h + 2 * h * ffn;
        } else {
            perLayer = 2 * h * h + 2 * h * kv + 3 * h * ffn;
        }
        long emb = (long) vocab * h * (tied ? 1 : 2);
        return perLayer * layers + emb;
    }
}
