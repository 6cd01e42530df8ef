package dev.llmplatform.nativekernels;

import java.util.Arrays;

/**
 * Flash-style prefill attention on tensor cores ({@code src/main/cuda/attention_prefill.cuh}): which passes take it,
 * the query tiles of a batch, and the launch. One per runner (it remembers the plan of the runner's current eager
 * pass); not thread-safe.
 *
 * <p>A batch's tokens form <em>query runs</em>: maximal stretches of consecutive tokens with the same block table
 * ({@code tableOff}) at consecutive positions (a prompt chunk; a decode token is a run of one). Each run is cut into
 * tiles of at most {@link #tokensPerTile} tokens, written as pairs (first token, count) after the step's other
 * metadata and copied to the device with it; the kernel's grid is tiles x KV heads x head chunks, tile-major. Tiles
 * are ordered by their key range, longest first, so that the heavy ones start first and the short ones fill the tail.
 *
 * <p>When: an eager pass whose runs of at least {@link #minRun} tokens hold at least half of the batch's attention
 * work (keys attended, summed over its tokens), head dim 64, 128 or 256, no ALiBi, and 16-bit activations (a runner in
 * {@code Precision.F32} keeps the f32 kernel: it is the exact reference). Then the flash kernel takes the whole batch,
 * decode tokens and short runs included (as one-token or short tiles):
 * paged_attention finds its token by the block's index in the batch, so it cannot take "the rest" of a batch without
 * a token map (a kernels.cu change), and a short tile reads its keys and values once per KV head (paged_attention:
 * once per query head), with the tensor-core work of 16 rows where only a few are real, which is cheap beside the
 * reads; but one block walks a decode token's keys tile after tile where paged_attention spreads them over 4-16 warps,
 * hence the work rule: a step of many long-context decode tokens beside a short chunk stays with paged_attention.
 * Batches without a long run (decode steps, graphs, chunks of single tokens) keep paged_attention.
 */
public final class PrefillAttention {
    /** A batch needs a run of at least this many tokens to take the flash kernel. */
    public static volatile int minRun = 16;
    /** Off: paged_attention everywhere (environment FLASH_PREFILL=0 turns it off from the start). */
    public static volatile boolean enabled = !"0".equals(System.getenv("FLASH_PREFILL"));
    /** Warps per block: 0 picks (4; environment FLASH_PREFILL_WARPS overrides); 8 exists for head dims 64 and 128. */
    public static volatile int warps = Integer.parseInt(System.getenv().getOrDefault("FLASH_PREFILL_WARPS", "0"));

    /** Flash launches through {@link #attention} so far, all runners (checks assert the path ran). */
    private static final java.util.concurrent.atomic.AtomicLong LAUNCHES = new java.util.concurrent.atomic.AtomicLong();

    public static long totalLaunches() {
        return LAUNCHES.get();
    }

    // The plan of the current eager pass: for n tokens whose positions are at device address planPos.
    private int planN = -1;
    private long planPos, dTiles;
    private int tileCount, planWarps;
    private long[] order = new long[0];
    private int[] counts = new int[0];

    /** Whether the kernel exists for this head dim (and grouping). */
    public static boolean handles(int heads, int kvHeads, int headDim) {
        return (headDim == 64 || headDim == 128 || headDim == 256) && kvHeads > 0 && heads % kvHeads == 0;
    }

    /** The warps per block the launch uses for this head dim. */
    static int warpsFor(int headDim) {
        int w = warps;
        if (w == 8 && headDim != 256) {
            return 8;
        }
        return 4;
    }

    static String kernelName(int headDim, int warps) {
        return "prefill_attention_hd" + headDim + "_w" + warps;
    }

    /** Keys per key tile of the kernel (attention_prefill.cuh's BN). */
    static int keysPerTile(int headDim) {
        return headDim == 256 ? 16 : 64;
    }

    /**
     * Dynamic shared memory of a block (attention_prefill.cuh's Cfg::smem): q rows, a key and a value tile in bf16
     * (two of each for a bf16 cache, double-buffered), rows padded by 8 elements, and 3 BN row indices.
     */
    static int sharedBytes(int headDim, int warps, int kvType) {
        int bn = keysPerTile(headDim);
        int buffers = kvType == KernelModule.BF16 ? 2 : 1;
        return (16 * warps + 2 * buffers * bn) * (headDim + 8) * 2 + 3 * bn * 4;
    }

    /** Query heads stacked per block: all of a KV head's group, or the rows of a block if the group is bigger. */
    static int headsPerBlock(int heads, int kvHeads, int warps) {
        return Math.min(heads / kvHeads, 16 * warps);
    }

    /** Tokens per tile: the block's rows over the stacked heads. */
    public static int tokensPerTile(int heads, int kvHeads, int warps) {
        return 16 * warps / headsPerBlock(heads, kvHeads, warps);
    }

    /** Blocks per tile: KV heads times head chunks (more than one chunk only when a group exceeds a block's rows). */
    static int gridY(int heads, int kvHeads, int warps) {
        int g = heads / kvHeads, hg = headsPerBlock(heads, kvHeads, warps);
        return kvHeads * ((g + hg - 1) / hg);
    }

    /**
     * Whether the flash kernel should take the batch: the tokens of runs of at least {@link #minRun} tokens hold at
     * least half of the batch's attention work (keys attended, summed over tokens). Otherwise decode tokens with long
     * contexts dominate, which paged_attention spreads over more warps (a decode token is one row of a flash block,
     * walking its keys tile after tile).
     */
    static boolean worthIt(int[] m, int posAt, int offAt, int n, int window) {
        long all = 0, inLong = 0;
        int t = 0;
        while (t < n) {
            int end = t + 1;
            while (end < n && m[offAt + end] == m[offAt + end - 1] && m[posAt + end] == m[posAt + end - 1] + 1) {
                end++;
            }
            long work = 0;
            for (int i = t; i < end; i++) {
                int p = m[posAt + i];
                work += window > 0 ? Math.min(p + 1, window) : p + 1L;
            }
            all += work;
            if (end - t >= minRun) {
                inLong += work;
            }
            t = end;
        }
        return inLong > 0 && 2 * inLong >= all;
    }

    /**
     * The tiles of n tokens (positions at m[posAt..), table offsets at m[offAt..)): pairs (first token, count) at
     * out[outAt..), each within one run and at most {@code tokensPerTile} tokens, ordered by key range (count plus
     * the context before the tile that the window lets in), longest first, ties by first token. Returns the number of
     * tiles (at most n).
     */
    public static int buildTiles(int[] m, int posAt, int offAt, int n, int tokensPerTile, int window, int[] out, int outAt) {
        return new PrefillAttention().tiles(m, posAt, offAt, n, tokensPerTile, window, out, outAt);
    }

    private int tiles(int[] m, int posAt, int offAt, int n, int tokensPerTile, int window, int[] out, int outAt) {
        if (order.length < n) {
            order = new long[Math.max(n, 2 * order.length)];
            counts = new int[order.length];
        }
        int count = 0;
        int t = 0;
        while (t < n) {
            int end = t + 1;
            while (end < n && m[offAt + end] == m[offAt + end - 1] && m[posAt + end] == m[posAt + end - 1] + 1) {
                end++;
            }
            for (int s = t; s < end; s += tokensPerTile) {
                int c = Math.min(tokensPerTile, end - s);
                int p = m[posAt + s];
                long span = c + (long) (window > 0 ? Math.min(p, window - 1) : p);
                counts[s] = c;
                // ascending order of (MAX - span, first token): longest key range first, then batch order
                order[count++] = (Integer.MAX_VALUE - span) << 32 | s;
            }
            t = end;
        }
        Arrays.sort(order, 0, count);
        for (int i = 0; i < count; i++) {
            int first = (int) (order[i] & 0xffffffffL);
            out[outAt + 2 * i] = first;
            out[outAt + 2 * i + 1] = counts[first];
        }
        return count;
    }

    /** Ints {@link #plan} may append to a step's metadata of n tokens (an upper bound). */
    public static int metaInts(int n) {
        return 2 * n;
    }

    /**
     * Plans an eager pass of n tokens: m holds the step's metadata as it will be copied to device address
     * {@code dMeta} (positions at m[posAt..), table offsets at m[offAt..)). If the pass takes the flash kernel, writes
     * its tiles at m[at..) and returns how many ints it wrote (copy them with the rest); 0 keeps paged_attention.
     * {@code actType} is the runner's activation type (KernelModule.F32/BF16/F16); {@code alibi}: the model uses
     * ALiBi (not handled here).
     */
    public int plan(int[] m, int n, int posAt, int offAt, int at, long dMeta, int heads, int kvHeads, int headDim,
                    int window, int actType, boolean alibi) {
        planN = -1;
        tileCount = 0;
        if (!enabled || alibi || actType == KernelModule.F32 || !handles(heads, kvHeads, headDim) || n < minRun
                || !worthIt(m, posAt, offAt, n, window)) {
            return 0;
        }
        planWarps = warpsFor(headDim);
        tileCount = tiles(m, posAt, offAt, n, tokensPerTile(heads, kvHeads, planWarps), window, m, at);
        planN = n;
        planPos = dMeta + 4L * posAt;
        dTiles = dMeta + 4L * at;
        return 2 * tileCount;
    }

    /**
     * paged_attention's arguments: launches the flash kernel instead when the current plan is for this pass (n tokens,
     * positions at {@code dPos}) and returns true; false: the caller runs paged_attention.
     */
    public boolean attention(KernelModule k, long qkv, long out, int outType, long kCache, long vCache, int kvType,
                             long dPos, long dTableOff, long dTables, int heads, int kvHeads, int headDim, int blockSize,
                             float scale, int window, int n) {
        if (planN != n || planPos != dPos || tileCount == 0 || (kvType != KernelModule.F32 && kvType != KernelModule.BF16)) {
            return false; // (the flash kernels read f32 and bf16 caches; an FP8 cache keeps paged_attention)
        }
        launch(k, qkv, out, outType, kCache, vCache, kvType, dPos, dTableOff, dTables, dTiles, tileCount, heads, kvHeads,
                headDim, blockSize, scale, window, planWarps);
        LAUNCHES.incrementAndGet();
        return true;
    }

    /**
     * One launch over {@code tiles} tiles at device address dTiles (built with {@link #buildTiles} for
     * {@link #tokensPerTile}(heads, kvHeads, warps)).
     */
    public static void launch(KernelModule k, long qkv, long out, int outType, long kCache, long vCache, int kvType,
                              long dPos, long dTableOff, long dTables, long dTiles, int tiles, int heads, int kvHeads,
                              int headDim, int blockSize, float scale, int window, int warps) {
        if (!handles(heads, kvHeads, headDim) || (warps != 4 && !(warps == 8 && headDim != 256))) {
            throw new IllegalArgumentException("no prefill attention kernel for head dim " + headDim + ", " + heads + "/"
                    + kvHeads + " heads, " + warps + " warps");
        }
        String name = kernelName(headDim, warps);
        int shared = sharedBytes(headDim, warps, kvType);
        k.allowShared(name, shared);
        k.call(name).p(qkv).p(out).i(outType).p(kCache).p(vCache).i(kvType).p(dPos).p(dTableOff).p(dTables).p(dTiles)
                .i(heads).i(kvHeads).i(blockSize).f(scale).i(window)
                .launch(Math.multiplyExact(tiles, gridY(heads, kvHeads, warps)), 1, 32 * warps, shared);
    }
}
