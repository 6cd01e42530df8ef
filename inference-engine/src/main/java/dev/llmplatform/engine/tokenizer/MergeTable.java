package dev.llmplatform.engine.tokenizer;

import java.util.Arrays;

/**
 * BPE merges as an open-addressing hash map from a pair of ids to (rank, merged id); avoids boxing hundreds
 * of thousands of entries for large vocabularies.
 */
final class MergeTable {

    static final long ABSENT = -1L;

    private long[] keys;
    private long[] values;
    private int size;

    MergeTable(int expected) {
        int cap = Integer.highestOneBit(Math.max(4, expected * 2) - 1) << 1;
        keys = new long[cap];
        values = new long[cap];
        Arrays.fill(keys, -1L);
    }

    private static long key(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    private static int slot(long key, int mask) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 29)) & mask;
    }

    /** Adds or replaces a merge (a repeated pair keeps the last rank, as a Rust HashMap collect does). */
    void put(int left, int right, int rank, int mergedId) {
        if ((size + 1) * 2 > keys.length) {
            grow();
        }
        long k = key(left, right);
        int mask = keys.length - 1;
        int i = slot(k, mask);
        while (keys[i] != -1L && keys[i] != k) {
            i = (i + 1) & mask;
        }
        if (keys[i] == -1L) {
            size++;
        }
        keys[i] = k;
        values[i] = ((long) rank << 32) | (mergedId & 0xFFFFFFFFL);
    }

    /** (rank << 32 | mergedId), or {@link #ABSENT}. */
    long get(int left, int right) {
        long k = key(left, right);
        int mask = keys.length - 1;
        int i = slot(k, mask);
        while (keys[i] != -1L) {
            if (keys[i] == k) {
                return values[i];
            }
            i = (i + 1) & mask;
        }
        return ABSENT;
    }

    static int rank(long entry) {
        return (int) (entry >>> 32);
    }

    static int mergedId(long entry) {
        return (int) entry;
    }

    private void grow() {
        long[] oldKeys = keys;
        long[] oldValues = values;
        keys = new long[oldKeys.length * 2];
        values = new long[oldKeys.length * 2];
        Arrays.fill(keys, -1L);
        size = 0;
        int mask = keys.length - 1;
        for (int j = 0; j < oldKeys.length; j++) {
            if (oldKeys[j] != -1L) {
                int i = slot(oldKeys[j], mask);
                while (keys[i] != -1L) {
                    i = (i + 1) & mask;
                }
                keys[i] = oldKeys[j];
                values[i] = oldValues[j];
                size++;
            }
        }
    }
}
