package dev.llmplatform.engine.cpu;

/**
 * One tensor-parallel rank's keys and values for the blocks of a shared {@link KvBlockPool}: the scheduler's pool
 * keeps only the bookkeeping (block ids, reference counts, the prefix cache; built with {@code hostStorage} false)
 * and each rank stores, under the same block ids, the rows of its own KV heads ({@code kvDim} is the rank's width,
 * not the model's). Block {@code b} of layer {@code l} is a float array of {@code blockSize * kvDim}, position-major,
 * allocated the first time the rank writes it and reused afterwards, as in {@link KvBlockPool}.
 *
 * <p>Each rank touches only its own storage, from its own thread: no synchronization.
 */
public final class KvShardStorage {
    private final int layers;
    private final int kvDim;
    private final int blockSize;
    private final int shift;
    private final float[][][] keys;
    private final float[][][] values;

    public KvShardStorage(int layers, int kvDim, int blockSize, int maxBlocks) {
        if (Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("KV block size must be a power of two, got " + blockSize);
        }
        this.layers = layers;
        this.kvDim = kvDim;
        this.blockSize = blockSize;
        this.shift = Integer.numberOfTrailingZeros(blockSize);
        this.keys = new float[layers][maxBlocks][];
        this.values = new float[layers][maxBlocks][];
    }

    public int kvDim() {
        return kvDim;
    }

    /** The block holding {@code position} of {@code cache}, allocated in every layer if this rank never wrote it. */
    private int block(KvCache cache, int position) {
        return cache.block(position >> shift);
    }

    /** Makes sure the block holding {@code position} exists in every layer (called before writing it). */
    public void ensure(KvCache cache, int position) {
        int b = block(cache, position);
        if (keys[0][b] == null) {
            for (int l = 0; l < layers; l++) {
                keys[l][b] = new float[blockSize * kvDim];
                values[l][b] = new float[blockSize * kvDim];
            }
        }
    }

    public float[] keyBlock(KvCache cache, int layer, int position) {
        return keys[layer][block(cache, position)];
    }

    public float[] valueBlock(KvCache cache, int layer, int position) {
        return values[layer][block(cache, position)];
    }

    /** Offset of {@code position}'s row within its block. */
    public int offset(int position) {
        return (position & (blockSize - 1)) * kvDim;
    }
}
