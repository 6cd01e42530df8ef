package dev.llmplatform.engine.runtime;

import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.tokenizer.StreamingDetokenizer;
import java.util.Arrays;

/**
 * A request inside the runtime: its tokens so far (prompt then output), how many of them have keys and values in
 * its cache ({@code computed}), its sampler and text state. Owned by the scheduler thread.
 *
 * <p>Invariant while running: {@code computed < length}; a step computes positions {@code [computed, computed + n)}
 * and, when that reaches {@code length}, samples the next token from the last position's logits. Prefill, chunked
 * prefill, decode and recomputation after preemption are all this one rule.
 */
final class Sequence {
    final long arrival;
    final GenerationRequest request;
    final RequestHandle handle;
    final int promptLength;
    /** The most tokens (prompt + output) this sequence will hold: max tokens, capped by the context. */
    final int maxLength;
    final KvCache cache;
    final Sampler sampler;
    final StreamingDetokenizer detokenizer;
    final StopStringMatcher stopStrings;

    int[] tokens;
    int length;
    int computed;
    /** Blocks from the start registered in the prefix cache (or taken from it). */
    int hashedBlocks;
    long[] blockHashes = new long[8];
    /** The prefix cache was consulted since the last (re)admission. */
    boolean prefixApplied;
    boolean admittedBefore;
    int cachedPromptTokens;

    Sequence(long arrival, GenerationRequest request, RequestHandle handle, int contextLength, KvCache cache,
             int vocab, StreamingDetokenizer detokenizer) {
        this.arrival = arrival;
        this.request = request;
        this.handle = handle;
        this.promptLength = request.promptIds().length;
        this.maxLength = Math.min(contextLength, promptLength + request.stop().maxTokens());
        this.cache = cache;
        this.sampler = new Sampler(request.sampling(), vocab, request.promptIds());
        this.detokenizer = detokenizer;
        this.stopStrings = new StopStringMatcher(request.stop().stopStrings());
        this.tokens = Arrays.copyOf(request.promptIds(), Math.max(16, promptLength + 16));
        this.length = promptLength;
    }

    int priority() {
        return request.priority();
    }

    int generated() {
        return length - promptLength;
    }

    /** Positions still to compute before the next token can be sampled. */
    int pending() {
        return length - computed;
    }

    void append(int token) {
        if (length == tokens.length) {
            tokens = Arrays.copyOf(tokens, Math.min(maxLength + 1, tokens.length * 2));
        }
        tokens[length++] = token;
    }

    void setBlockHash(int block, long hash) {
        if (block >= blockHashes.length) {
            blockHashes = Arrays.copyOf(blockHashes, Math.max(block + 1, blockHashes.length * 2));
        }
        blockHashes[block] = hash;
    }

    /** Drops all KV memory; the sequence will be recomputed from its tokens when it runs again. */
    void resetCache() {
        cache.release();
        computed = 0;
        hashedBlocks = 0;
        prefixApplied = false;
    }
}
