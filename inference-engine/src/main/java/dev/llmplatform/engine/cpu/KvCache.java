package dev.llmplatform.engine.cpu;

import java.util.Arrays;

/**
 * One sequence's keys and values for every layer, in float32, grown in blocks of {@link #BLOCK} positions.
 *
 * <p>Layout: {@code keys[layer][block]} is a float array of {@code BLOCK * kvDim}; position p of a layer lives in
 * block {@code p / BLOCK} at offset {@code (p % BLOCK) * kvDim}, heads side by side ({@code kvHead * headDim}).
 * Blocks are allocated when a position first reaches them, so memory follows the sequence's length rather than
 * the model's maximum context.
 */
public final class KvCache {
    public static final int BLOCK_SHIFT = 6;
    public static final int BLOCK = 1 << BLOCK_SHIFT;

    private final int layers;
    private final int kvDim;
    private final int capacity;
    private float[][][] keys;
    private float[][][] values;
    private int length;

    /**
     * @param capacity the most positions this sequence may hold (the context length)
     */
    public KvCache(int layers, int kvDim, int capacity) {
        this.layers = layers;
        this.kvDim = kvDim;
        this.capacity = capacity;
        this.keys = new float[layers][0][];
        this.values = new float[layers][0][];
    }

    public int capacity() {
        return capacity;
    }

    /** Positions [0, length) hold keys and values. */
    public int length() {
        return length;
    }

    /** Forgets positions at and after {@code newLength} (their memory is kept for reuse). */
    public void truncate(int newLength) {
        if (newLength < 0 || newLength > length) {
            throw new IllegalArgumentException("cannot truncate a cache of length " + length + " to " + newLength);
        }
        length = newLength;
    }

    /** Makes room for positions up to {@code position} and extends the length to include it. */
    public void reserve(int position) {
        if (position >= capacity) {
            throw new IllegalArgumentException("position " + position + " is past the context length " + capacity);
        }
        int blocksNeeded = (position >> BLOCK_SHIFT) + 1;
        if (keys[0].length < blocksNeeded) {
            int grown = Math.min((capacity + BLOCK - 1) >> BLOCK_SHIFT, Math.max(blocksNeeded, keys[0].length * 2));
            for (int l = 0; l < layers; l++) {
                keys[l] = grow(keys[l], grown);
                values[l] = grow(values[l], grown);
            }
        }
        length = Math.max(length, position + 1);
    }

    private float[][] grow(float[][] blocks, int count) {
        float[][] out = Arrays.copyOf(blocks, count);
        for (int b = blocks.length; b < count; b++) {
            out[b] = new float[BLOCK * kvDim];
        }
        return out;
    }

    public float[] keyBlock(int layer, int position) {
        return keys[layer][position >> BLOCK_SHIFT];
    }

    public float[] valueBlock(int layer, int position) {
        return values[layer][position >> BLOCK_SHIFT];
    }

    /** Offset of {@code position}'s row within its block. */
    public int offset(int position) {
        return (position & (BLOCK - 1)) * kvDim;
    }

    public long bytes() {
        return 2L * layers * keys[0].length * BLOCK * kvDim * Float.BYTES;
    }
}
