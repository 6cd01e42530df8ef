package dev.llmplatform.engine.cpu;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Map;

/**
 * The KV memory of a model: a fixed number of blocks, each holding keys and values of {@code blockSize}
 * consecutive positions of one sequence for every layer, handed out to sequences through their block tables
 * ({@link KvCache}).
 *
 * <p>Layout: {@code keys[layer][block]} is a float array of {@code blockSize * kvDim} (position-major, heads side
 * by side), allocated the first time the block is used and then reused forever, so the pool never holds more than
 * {@code maxBlocks} blocks, whatever the requests do.
 *
 * <p>Prefix caching: a full block can be registered under the hash of the tokens it holds and of every token
 * before it; a later sequence whose prompt starts with the same tokens takes the block instead of computing it
 * (reference-counted; shared blocks are never written, since sequences only write past their cached prefix).
 * Blocks whose count drops to zero stay cached, in least-recently-released order, until an allocation needs them.
 *
 * <p>Not thread-safe: owned by the scheduler thread (or one sequence, for a private pool).
 */
public final class KvBlockPool {
    private final boolean hostStorage;
    private final int layers;
    private final int kvDim;
    private final int blockSize;
    private final int shift;
    private final int maxBlocks;
    final float[][][] keys;
    final float[][][] values;
    private final int[] refCount;
    private final long[] hashOf;          // the prefix hash a cached block is registered under
    private final int[][] tokensOf;       // the tokens of a cached block, to rule out hash collisions
    private final boolean[] cached;
    private final ArrayDeque<Integer> free = new ArrayDeque<>();
    private final LinkedHashSet<Integer> evictable = new LinkedHashSet<>();
    private final Map<Long, Integer> byHash = new HashMap<>();
    private int nextUnused;               // blocks [nextUnused, maxBlocks) were never handed out
    private long lookups;
    private long hits;

    /**
     * @param blockSize positions per block, a power of two
     * @param maxBlocks the most blocks this pool will ever allocate
     */
    public KvBlockPool(int layers, int kvDim, int blockSize, int maxBlocks) {
        this(layers, kvDim, blockSize, maxBlocks, true);
    }

    /**
     * @param hostStorage false for a pool whose blocks live elsewhere (a GPU runner keeps its own buffers and uses
     *                    only this pool's bookkeeping: block ids, reference counts, prefix cache)
     */
    public KvBlockPool(int layers, int kvDim, int blockSize, int maxBlocks, boolean hostStorage) {
        if (Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("KV block size must be a power of two, got " + blockSize);
        }
        if (maxBlocks < 1) {
            throw new IllegalArgumentException("KV cache needs at least one block, got " + maxBlocks);
        }
        this.hostStorage = hostStorage;
        this.layers = layers;
        this.kvDim = kvDim;
        this.blockSize = blockSize;
        this.shift = Integer.numberOfTrailingZeros(blockSize);
        this.maxBlocks = maxBlocks;
        this.keys = new float[hostStorage ? layers : 0][maxBlocks][];
        this.values = new float[hostStorage ? layers : 0][maxBlocks][];
        this.refCount = new int[maxBlocks];
        this.hashOf = new long[maxBlocks];
        this.tokensOf = new int[maxBlocks][];
        this.cached = new boolean[maxBlocks];
    }

    /** Bytes one block takes (keys and values, all layers). */
    public static long bytesPerBlock(int layers, int kvDim, int blockSize) {
        return 2L * layers * blockSize * kvDim * Float.BYTES;
    }

    public int blockSize() {
        return blockSize;
    }

    int shift() {
        return shift;
    }

    public int kvDim() {
        return kvDim;
    }

    public int layers() {
        return layers;
    }

    public int capacityBlocks() {
        return maxBlocks;
    }

    /** Blocks an allocation can still get: never used, released, or cached but unreferenced. */
    public int availableBlocks() {
        return (maxBlocks - nextUnused) + free.size() + evictable.size();
    }

    /** Blocks referenced by at least one sequence. */
    public int usedBlocks() {
        return maxBlocks - availableBlocks();
    }

    /** Cached blocks nobody references (reusable by a prefix hit, or evictable). */
    public int cachedIdleBlocks() {
        return evictable.size();
    }

    public long prefixLookups() {
        return lookups;
    }

    public long prefixHits() {
        return hits;
    }

    /** A block for one sequence's exclusive use, or -1 when every block is referenced. */
    public int allocate() {
        int b;
        if (!free.isEmpty()) {
            b = free.pop();
        } else if (nextUnused < maxBlocks) {
            b = nextUnused++;
            for (int l = 0; l < layers && hostStorage; l++) {
                keys[l][b] = new float[blockSize * kvDim];
                values[l][b] = new float[blockSize * kvDim];
            }
        } else if (!evictable.isEmpty()) {
            Iterator<Integer> oldest = evictable.iterator();
            b = oldest.next();
            oldest.remove();
            uncache(b);
        } else {
            return -1;
        }
        refCount[b] = 1;
        return b;
    }

    public void retain(int block) {
        if (refCount[block]++ == 0 && cached[block]) {
            evictable.remove(block);
        }
    }

    /** Drops one reference; an unreferenced block becomes free, or idle in the prefix cache. */
    public void release(int block) {
        if (refCount[block] <= 0) {
            throw new IllegalStateException("KV block " + block + " released more often than it was taken");
        }
        if (--refCount[block] == 0) {
            if (cached[block]) {
                evictable.add(block);
            } else {
                free.push(block);
            }
        }
    }

    public int refCount(int block) {
        return refCount[block];
    }

    /**
     * Registers a full block under {@code prefixHash} (the hash of all tokens up to and including this block's).
     * A block already registered, or a hash already taken by another block, is left as it is.
     */
    public void register(int block, long prefixHash, int[] tokens, int from) {
        if (cached[block] || byHash.containsKey(prefixHash)) {
            return;
        }
        cached[block] = true;
        hashOf[block] = prefixHash;
        tokensOf[block] = Arrays.copyOfRange(tokens, from, from + blockSize);
        byHash.put(prefixHash, block);
    }

    /**
     * The cached block registered under {@code prefixHash} holding {@code tokens[from .. from + blockSize)}, now
     * retained by the caller; or -1.
     */
    public int lookup(long prefixHash, int[] tokens, int from) {
        lookups++;
        Integer b = byHash.get(prefixHash);
        if (b == null || !Arrays.equals(tokensOf[b], 0, blockSize, tokens, from, from + blockSize)) {
            return -1;
        }
        hits++;
        retain(b);
        return b;
    }

    private void uncache(int block) {
        byHash.remove(hashOf[block]);
        cached[block] = false;
        tokensOf[block] = null;
    }

    /** The hash of a block's tokens chained onto the hash of everything before it. */
    public static long chainHash(long parent, int[] tokens, int from, int count) {
        long h = parent ^ 0x9E3779B97F4A7C15L;
        for (int i = from; i < from + count; i++) {
            h = (h ^ tokens[i]) * 0xBF58476D1CE4E5B9L;
            h ^= h >>> 31;
        }
        return h * 0x94D049BB133111EBL;
    }
}
