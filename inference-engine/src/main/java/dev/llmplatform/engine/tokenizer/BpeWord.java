package dev.llmplatform.engine.tokenizer;

/**
 * Applies BPE merges to one word exactly like the crate's {@code Word::merge_all}: a doubly linked list of
 * symbols and a min-heap of candidate merges ordered by (rank, position). Stale heap entries (whose pair
 * changed since they were queued) are recognised by the merged id and skipped.
 */
final class BpeWord {

    private final int[] id;
    private final int[] prev;
    private final int[] next;
    private final boolean[] removed;

    // Heap of candidate merges, as parallel arrays.
    private int[] heapRank;
    private int[] heapPos;
    private int[] heapNewId;
    private int heapSize;

    private BpeWord(int[] symbols) {
        int n = symbols.length;
        id = symbols.clone();
        prev = new int[n];
        next = new int[n];
        removed = new boolean[n];
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        int cap = Math.max(4, n);
        heapRank = new int[cap];
        heapPos = new int[cap];
        heapNewId = new int[cap];
    }

    /** Merges the symbol ids of one word and returns the resulting ids. */
    static int[] mergeAll(int[] symbols, MergeTable merges) {
        if (symbols.length < 2) {
            return symbols;
        }
        BpeWord w = new BpeWord(symbols);
        w.run(merges);
        return w.result();
    }

    private void run(MergeTable merges) {
        for (int i = 0; i + 1 < id.length; i++) {
            long m = merges.get(id[i], id[i + 1]);
            if (m != MergeTable.ABSENT) {
                push(MergeTable.rank(m), i, MergeTable.mergedId(m));
            }
        }
        while (heapSize > 0) {
            int pos = heapPos[0];
            int newId = heapNewId[0];
            pop();
            if (removed[pos] || next[pos] == -1) {
                continue;
            }
            int right = next[pos];
            long current = merges.get(id[pos], id[right]);
            if (current == MergeTable.ABSENT || MergeTable.mergedId(current) != newId) {
                continue; // expired entry
            }
            id[pos] = newId;
            removed[right] = true;
            next[pos] = next[right];
            if (next[right] != -1) {
                prev[next[right]] = pos;
            }
            if (prev[pos] >= 0) {
                long m = merges.get(id[prev[pos]], id[pos]);
                if (m != MergeTable.ABSENT) {
                    push(MergeTable.rank(m), prev[pos], MergeTable.mergedId(m));
                }
            }
            if (next[pos] != -1) {
                long m = merges.get(id[pos], id[next[pos]]);
                if (m != MergeTable.ABSENT) {
                    push(MergeTable.rank(m), pos, MergeTable.mergedId(m));
                }
            }
        }
    }

    private int[] result() {
        int count = 0;
        for (boolean r : removed) {
            if (!r) {
                count++;
            }
        }
        int[] out = new int[count];
        for (int i = 0, k = 0; i < id.length; i++) {
            if (!removed[i]) {
                out[k++] = id[i];
            }
        }
        return out;
    }

    private boolean less(int a, int b) {
        return heapRank[a] != heapRank[b] ? heapRank[a] < heapRank[b] : heapPos[a] < heapPos[b];
    }

    private void swap(int a, int b) {
        int t = heapRank[a];
        heapRank[a] = heapRank[b];
        heapRank[b] = t;
        t = heapPos[a];
        heapPos[a] = heapPos[b];
        heapPos[b] = t;
        t = heapNewId[a];
        heapNewId[a] = heapNewId[b];
        heapNewId[b] = t;
    }

    private void push(int rank, int pos, int newId) {
        if (heapSize == heapRank.length) {
            int cap = heapSize * 2;
            heapRank = java.util.Arrays.copyOf(heapRank, cap);
            heapPos = java.util.Arrays.copyOf(heapPos, cap);
            heapNewId = java.util.Arrays.copyOf(heapNewId, cap);
        }
        int i = heapSize++;
        heapRank[i] = rank;
        heapPos[i] = pos;
        heapNewId[i] = newId;
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (!less(i, parent)) {
                break;
            }
            swap(i, parent);
            i = parent;
        }
    }

    private void pop() {
        heapSize--;
        if (heapSize == 0) {
            return;
        }
        heapRank[0] = heapRank[heapSize];
        heapPos[0] = heapPos[heapSize];
        heapNewId[0] = heapNewId[heapSize];
        int i = 0;
        while (true) {
            int l = 2 * i + 1;
            int r = l + 1;
            int best = i;
            if (l < heapSize && less(l, best)) {
                best = l;
            }
            if (r < heapSize && less(r, best)) {
                best = r;
            }
            if (best == i) {
                return;
            }
            swap(i, best);
            i = best;
        }
    }
}
