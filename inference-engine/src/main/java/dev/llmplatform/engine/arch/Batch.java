package dev.llmplatform.engine.arch;

import dev.llmplatform.engine.cpu.KvCache;
import java.util.Arrays;

/**
 * The tokens of one forward pass, flattened: any mix of prompt chunks and decode steps from any sequences.
 * Token i is {@code tokens[i]} at {@code positions[i]} of the sequence whose cache is {@code caches[i]}; logits are
 * computed only where {@code wantLogits[i]}. Reusable: {@link #clear()} and add again; arrays grow as needed.
 */
public final class Batch {
    int size;
    int[] tokens;
    int[] positions;
    KvCache[] caches;
    boolean[] wantLogits;

    public Batch(int capacity) {
        tokens = new int[capacity];
        positions = new int[capacity];
        caches = new KvCache[capacity];
        wantLogits = new boolean[capacity];
    }

    public Batch clear() {
        Arrays.fill(caches, 0, size, null);
        size = 0;
        return this;
    }

    public Batch add(int token, int position, KvCache cache, boolean wantLogits) {
        if (size == tokens.length) {
            int n = Math.max(4, size * 2);
            tokens = Arrays.copyOf(tokens, n);
            positions = Arrays.copyOf(positions, n);
            caches = Arrays.copyOf(caches, n);
            this.wantLogits = Arrays.copyOf(this.wantLogits, n);
        }
        tokens[size] = token;
        positions[size] = position;
        caches[size] = cache;
        this.wantLogits[size] = wantLogits;
        size++;
        return this;
    }

    /** Adds a run of consecutive positions of one sequence (a prompt or a chunk of it). */
    public Batch addSequence(int[] ids, int from, int to, int startPosition, KvCache cache, boolean allLogits) {
        for (int i = from; i < to; i++) {
            add(ids[i], startPosition + (i - from), cache, allLogits || i == to - 1);
        }
        return this;
    }

    public int size() {
        return size;
    }

    public int token(int i) {
        return tokens[i];
    }

    public int position(int i) {
        return positions[i];
    }

    public KvCache cache(int i) {
        return caches[i];
    }

    public boolean wantsLogits(int i) {
        return wantLogits[i];
    }

    public int logitRows() {
        int n = 0;
        for (int i = 0; i < size; i++) {
            if (wantLogits[i]) {
                n++;
            }
        }
        return n;
    }
}
