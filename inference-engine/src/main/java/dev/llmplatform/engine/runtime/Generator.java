package dev.llmplatform.engine.runtime;

import dev.llmplatform.engine.arch.Batch;
import dev.llmplatform.engine.arch.ModelRunner;
import dev.llmplatform.engine.cpu.KvCache;
import java.util.Arrays;
import java.util.Set;

/**
 * Generates one sequence: the prompt in chunks (prefill), then one token per forward pass until an end-of-sequence
 * id, the token limit or the context length. The batched, many-request scheduler builds on the same model calls;
 * this is the simple path the command line and tests use.
 */
public final class Generator {
    /** Prompt tokens per forward pass during prefill: bounds the activation buffers for long prompts. */
    public static final int PREFILL_CHUNK = 512;

    /** KV block size of the private cache: any size works; 16 matches the runtime's default. */
    private static final int CACHE_BLOCK = 16;

    private final ModelRunner model;

    /** Any model runner: the CPU decoder, a tensor-parallel group of ranks, a GPU runner. */
    public Generator(ModelRunner model) {
        this.model = model;
    }

    /** Called with each generated token as soon as it is chosen; return false to stop (cancel). */
    @FunctionalInterface
    public interface TokenListener {
        boolean onToken(int id);
    }

    /**
     * @param outputIds  the generated ids (including a final end-of-sequence id, if one stopped it)
     * @param prefillNanos time to process the prompt and choose the first token
     * @param decodeNanos  time for the remaining tokens
     */
    public record Result(int[] outputIds, FinishReason finishReason, long prefillNanos, long decodeNanos) {
    }

    /**
     * @throws IllegalArgumentException if the prompt is empty, has ids outside the vocabulary, or leaves no room in
     *                                  the context for a generated token
     */
    public Result generate(int[] prompt, int maxTokens, SamplingParams params, Set<Integer> stopIds, TokenListener listener) {
        int context = model.contextLength();
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt is empty: at least one token is needed");
        }
        if (prompt.length >= context) {
            throw new IllegalArgumentException("the prompt has " + prompt.length + " tokens, but the context of "
                    + model.name() + " is " + context + " tokens (prompt + at least one generated token must fit)");
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("max tokens is " + maxTokens + ", expected at least 1");
        }
        int vocab = model.vocabSize();
        for (int id : prompt) {
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("prompt token id " + id + " is outside the vocabulary (ids 0.." + (vocab - 1) + ")");
            }
        }
        // A private pool sized for this sequence alone (prompt + generated tokens, within the context).
        int positions = Math.min(context, prompt.length + maxTokens);
        KvCache cache = model.newCache(model.newKvPool(CACHE_BLOCK, (positions + CACHE_BLOCK - 1) / CACHE_BLOCK));
        cache.preallocate(prompt.length + maxTokens);
        Sampler sampler = new Sampler(params, vocab, prompt);
        float[] logits = new float[vocab];
        Batch batch = new Batch(Math.min(prompt.length, PREFILL_CHUNK));
        long start = System.nanoTime();
        for (int from = 0; from < prompt.length; from += PREFILL_CHUNK) {
            int to = Math.min(prompt.length, from + PREFILL_CHUNK);
            model.forward(batch.clear().addSequence(prompt, from, to, from, cache, false), logits);
        }
        int[] out = new int[Math.min(maxTokens, context - prompt.length)];
        int n = 0;
        long prefillEnd = 0;
        FinishReason reason = FinishReason.LENGTH;
        int pos = prompt.length;
        while (true) {
            int next = sampler.sample(logits, 0);
            sampler.accept(next);
            out[n++] = next;
            if (prefillEnd == 0) {
                prefillEnd = System.nanoTime();
            }
            if (!listener.onToken(next)) {
                reason = FinishReason.CANCELLED;
                break;
            }
            if (stopIds.contains(next)) {
                reason = FinishReason.STOP;
                break;
            }
            if (n == out.length) {
                break;
            }
            model.forward(batch.clear().add(next, pos++, cache, true), logits);
        }
        long end = System.nanoTime();
        return new Result(Arrays.copyOf(out, n), reason, prefillEnd - start, end - prefillEnd);
    }
}
