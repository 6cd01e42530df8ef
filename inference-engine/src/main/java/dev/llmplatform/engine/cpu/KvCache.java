package dev.llmplatform.engine.cpu;

/**
 * One sequence's view of KV memory: a block table mapping its positions onto blocks of a {@link KvBlockPool}.
 * Position p lives in block {@code table[p / blockSize]} at offset {@code (p % blockSize) * kvDim}.
 *
 * <p>A cache made by {@link #standalone} owns a private pool sized for the whole context (what single-sequence
 * generation and tests use); the runtime's sequences share one pool, with blocks reserved by the scheduler
 * before each step.
 */
public final class KvCache {
    private final KvBlockPool pool;
    private final int capacity;
    private int[] table = new int[8];
    private int blocks;
    private int length;

    public KvCache(KvBlockPool pool, int capacity) {
        this.pool = pool;
        this.capacity = capacity;
    }

    /** A cache with its own pool, able to hold {@code capacity} positions. */
    public static KvCache standalone(int layers, int kvDim, int capacity) {
        int blockSize = 16;
        return new KvCache(new KvBlockPool(layers, kvDim, blockSize, (capacity + blockSize - 1) / blockSize), capacity);
    }

    public KvBlockPool pool() {
        return pool;
    }

    /** The most positions this sequence may hold (the model's context length). */
    public int capacity() {
        return capacity;
    }

    /** Positions [0, length) hold keys and values. */
    public int length() {
        return length;
    }

    public int blockCount() {
        return blocks;
    }

    public int block(int index) {
        return table[index];
    }

    /** Positions the blocks held now can store. */
    public int reservedPositions() {
        return blocks * pool.blockSize();
    }

    /** Appends a block the caller obtained from the pool (allocated or a prefix-cache hit). */
    public void appendBlock(int block) {
        if (blocks == table.length) {
            table = java.util.Arrays.copyOf(table, blocks * 2);
        }
        table[blocks++] = block;
    }

    /**
     * Takes blocks from the pool until {@code positions} positions fit. Returns false, taking nothing more, when the
     * pool runs out.
     */
    public boolean ensureCapacity(int positions) {
        if (positions > capacity) {
            return false;
        }
        while (reservedPositions() < positions) {
            int b = pool.allocate();
            if (b < 0) {
                return false;
            }
            appendBlock(b);
        }
        return true;
    }

    /** Same as {@link #ensureCapacity} for a whole generation known in advance, so decode steps allocate nothing. */
    public void preallocate(int positions) {
        ensureCapacity(Math.min(positions, capacity));
    }

    /** Marks positions up to {@code position} as written, taking a block if needed. */
    public void reserve(int position) {
        if (position >= capacity) {
            throw new IllegalArgumentException("position " + position + " is past the context length " + capacity);
        }
        if (!ensureCapacity(position + 1)) {
            throw new IllegalStateException("the KV cache is full (" + pool.capacityBlocks() + " blocks of "
                    + pool.blockSize() + " positions)");
        }
        length = Math.max(length, position + 1);
    }

    /** Marks the first {@code positions} positions as valid (after taking prefix-cached blocks). */
    public void setLength(int positions) {
        if (positions > reservedPositions()) {
            throw new IllegalArgumentException("length " + positions + " exceeds the " + reservedPositions() + " reserved positions");
        }
        length = positions;
    }

    /** Gives every block back to the pool; the cache is empty afterwards. */
    public void release() {
        for (int i = 0; i < blocks; i++) {
            pool.release(table[i]);
        }
        blocks = 0;
        length = 0;
    }

    public float[] keyBlock(int layer, int position) {
        return pool.keys[layer][table[position >> pool.shift()]];
    }

    public float[] valueBlock(int layer, int position) {
        return pool.values[layer][table[position >> pool.shift()]];
    }

    /** Offset of {@code position}'s row within its block. */
    public int offset(int position) {
        return (position & (pool.blockSize() - 1)) * pool.kvDim();
    }
}
