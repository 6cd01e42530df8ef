package dev.llmplatform.engine.arch;

import dev.llmplatform.engine.cpu.Kernels;
import dev.llmplatform.engine.cpu.KvBlockPool;
import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.cpu.KvShardStorage;
import dev.llmplatform.engine.cpu.MatMul;
import dev.llmplatform.engine.cpu.RotaryEmbedding;
import dev.llmplatform.engine.cpu.WeightMatrix;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.Tensor;
import dev.llmplatform.engine.runtime.SamplingRow;
import dev.llmplatform.engine.runtime.SamplingRule;

/**
 * A decoder-only transformer on the CPU: one forward pass over a {@link Batch} of tokens from any number of
 * sequences, writing their keys and values into each sequence's {@link KvCache} and producing next-token logits
 * for the tokens that ask for them.
 *
 * <p>The families differ only in the choices {@link TransformerSpec} records (norms, positions, residual wiring,
 * MLP form); this class is the one place their blocks are computed. Activations are float32 row-major buffers,
 * one row per token ({@code x[t * hidden + i]}); they are allocated for the largest batch seen and then reused,
 * so a decode step allocates nothing.
 *
 * <p>Tensor parallelism: the same class computes one rank of a sharded model ({@link TensorShard}): the spec and
 * weights are then the rank's, the embedding and the outputs of the attention and MLP output projections are
 * summed over the ranks ({@link TensorShard#allReduce}), and the LM head writes the rank's columns of the logits.
 * With the whole model ({@link TensorShard#whole}) those steps cost one branch each.
 *
 * <p>Not thread-safe: one forward pass at a time.
 */
public final class DecoderModel implements ModelRunner {
    private final String name;
    private final TransformerSpec spec;
    private final ModelWeights weights;
    private final AutoCloseable resources;
    private final WorkerPool pool;
    private final TensorShard shard;
    private final MatMul matmul;
    private final AttentionTask attention = new AttentionTask();
    private final ActivationTask activation = new ActivationTask();

    // Per-batch buffers, rows of the named width per token; see ensureCapacity.
    private int capacity;
    private float[] x;      // hidden: the residual stream
    private float[] xn;     // hidden: norm1 output (attention input)
    private float[] xn2;    // hidden: norm2 output (MLP input)
    private float[] q;      // qDim
    private float[] k;      // kvDim
    private float[] v;      // kvDim
    private float[] qkv;    // fused QKV output width
    private float[] att;    // qDim: attention output before the output projection
    private float[] proj;   // hidden: attention output projection
    private float[] mlpA;   // ffn
    private float[] mlpB;   // ffn
    private float[] mlpOut; // hidden
    private float[] cos;    // rotaryDim/2
    private float[] sin;    // rotaryDim/2
    private float[] hOut;   // hidden: final-norm rows of tokens that want logits
    private float[] greedyLogits = new float[0];
    private final SamplingRule samplingRule = new SamplingRule();
    // The rank's KV storage during a sharded forward pass; null reads each cache's own pool.
    private KvShardStorage kvShard;

    public DecoderModel(String name, TransformerSpec spec, ModelWeights weights, AutoCloseable resources, WorkerPool pool) {
        this(name, spec, weights, resources, pool, TensorShard.whole(spec.vocab()));
    }

    /** One rank of a tensor-parallel model: {@code spec} and {@code weights} are the rank's share. */
    public DecoderModel(String name, TransformerSpec spec, ModelWeights weights, AutoCloseable resources, WorkerPool pool,
                        TensorShard shard) {
        this.name = name;
        this.spec = spec;
        this.weights = weights;
        this.resources = resources;
        this.pool = pool;
        this.shard = shard;
        this.matmul = new MatMul(pool);
        ensureCapacity(1);
    }

    @Override
    public String name() {
        return name;
    }

    public TransformerSpec spec() {
        return spec;
    }

    public ModelWeights weights() {
        return weights;
    }

    public WorkerPool pool() {
        return pool;
    }

    public TensorShard shard() {
        return shard;
    }

    @Override
    public int vocabSize() {
        return spec.vocab();
    }

    @Override
    public int contextLength() {
        return spec.contextLength();
    }

    /** A cache for one sequence of up to {@link #contextLength()} positions. */
    public KvCache newCache() {
        return KvCache.standalone(spec.layers(), spec.kvDim(), spec.contextLength());
    }

    /** A shared KV pool of {@code maxBlocks} blocks of {@code blockSize} positions (for the runtime's sequences). */
    @Override
    public KvBlockPool newKvPool(int blockSize, int maxBlocks) {
        return new KvBlockPool(spec.layers(), spec.kvDim(), blockSize, maxBlocks);
    }

    /** A sequence's cache drawing blocks from {@code pool}. */
    @Override
    public KvCache newCache(KvBlockPool pool) {
        return new KvCache(pool, spec.contextLength());
    }

    /** Bytes of KV memory per position (keys and values of every layer, float32). */
    public long kvBytesPerPosition() {
        return 2L * spec.layers() * spec.kvDim() * Float.BYTES;
    }

    /** Bytes of weights one decode step reads: every matrix once, plus one embedding row. */
    public long weightBytesPerToken() {
        long n = weights.lmHead().bytes();
        for (LayerWeights l : weights.layers()) {
            for (WeightMatrix m : new WeightMatrix[] {l.wq(), l.wk(), l.wv(), l.wo(), l.wGate(), l.wUp(), l.wDown(),
                    l.fused() == null ? null : l.fused().w()}) {
                n += m == null ? 0 : m.bytes();
            }
        }
        return n;
    }

    private void ensureCapacity(int tokens) {
        if (tokens <= capacity) {
            return;
        }
        int t = Math.max(tokens, capacity * 2);
        int h = spec.hidden();
        int fusedWidth = 0;
        for (LayerWeights l : weights.layers()) {
            if (l.fused() != null) {
                fusedWidth = Math.max(fusedWidth, l.fused().w().rows());
            }
        }
        int rot = spec.rope() == null ? 0 : spec.rope().rotaryDim() / 2;
        x = new float[t * h];
        xn = new float[t * h];
        xn2 = new float[t * h];
        q = new float[t * spec.qDim()];
        k = new float[t * spec.kvDim()];
        v = new float[t * spec.kvDim()];
        qkv = new float[t * fusedWidth];
        att = new float[t * spec.qDim()];
        proj = new float[t * h];
        mlpA = new float[t * spec.ffn()];
        mlpB = new float[t * spec.ffn()];
        mlpOut = new float[t * h];
        cos = new float[t * rot];
        sin = new float[t * rot];
        hOut = new float[t * h];
        capacity = t;
    }

    /**
     * Runs the batch. Logits of the tokens that want them are written to {@code logits} in batch order, one row
     * of {@link #vocabSize()} per such token.
     *
     * @throws IllegalArgumentException for a token id outside the vocabulary or a position past the context
     */
    @Override
    public void forward(Batch batch, float[] logits) {
        if (batch.size == 0) {
            return;
        }
        prepare(batch, logits);
        forwardShard(batch, logits, null);
    }

    /**
     * What a forward pass does once whatever the number of ranks: checks the batch (token ids, positions, the
     * logits buffer) and reserves every token's position in its cache.
     *
     * @throws IllegalArgumentException for a token id outside the vocabulary or a position past the context
     */
    public void prepare(Batch batch, float[] logits) {
        int rows = batch.logitRows();
        if (logits.length < (long) rows * spec.vocab()) {
            throw new IllegalArgumentException("logits buffer holds " + logits.length + " floats, need " + rows + " x " + spec.vocab());
        }
        validate(batch);
        for (int t = 0; t < batch.size; t++) {
            batch.caches[t].reserve(batch.positions[t]);
        }
    }

    /**
     * This model's share of a forward pass over a {@link #prepare prepared} batch: all of it for the whole model;
     * for a rank, its heads and slices, meeting the other ranks at each all-reduce (every rank must run the same
     * batch at the same time), and its columns {@code [vocabStart, vocabEnd)} of each logits row.
     *
     * @param kv the rank's KV storage for the batch's pool, or null to use each cache's own pool
     */
    public void forwardShard(Batch batch, float[] logits, KvShardStorage kv) {
        int n = batch.size;
        if (n == 0) {
            return;
        }
        int rows = batch.logitRows();
        ensureCapacity(n);
        kvShard = kv;
        try {
            compute(batch, logits, n, rows);
        } finally {
            kvShard = null;
        }
    }

    private void compute(Batch batch, float[] logits, int n, int rows) {
        embed(batch);
        RotaryEmbedding rope = spec.rope();
        if (rope != null) {
            int half = rope.rotaryDim() / 2;
            for (int t = 0; t < n; t++) {
                rope.angles(batch.positions[t], cos, sin, t * half);
            }
        }
        for (int l = 0; l < spec.layers(); l++) {
            layer(l, weights.layers()[l], batch);
        }
        int h = spec.hidden();
        int r = 0;
        for (int t = 0; t < n; t++) {
            if (batch.wantLogits[t]) {
                norm(hOut, r * h, x, t * h, weights.finalNormWeight(), weights.finalNormBias());
                r++;
            }
        }
        matmul.apply(weights.lmHead(), hOut, 0, h, logits, shard.vocabStart(), spec.vocab(), rows, weights.lmHeadBias());
    }

    /** The CPU computes the logits anyway; picking the argmax here keeps the runtime's greedy path one code path. */
    @Override
    public boolean forwardGreedy(Batch batch, int[] nextIds) {
        int rows = batch.logitRows();
        int vocab = spec.vocab();
        if (greedyLogits.length < rows * vocab) {
            greedyLogits = new float[rows * vocab];
        }
        forward(batch, greedyLogits);
        ModelRunner.argmaxRows(greedyLogits, rows, vocab, nextIds);
        return true;
    }

    /**
     * Same reason: the logits are on the heap, and {@link SamplingRule} here is the rule a GPU runner applies on its
     * device, so the runtime's sampled path is one code path whichever runner computes.
     */
    @Override
    public boolean forwardSampled(Batch batch, SamplingRow[] rows, int[] nextIds) {
        int n = batch.logitRows();
        int vocab = spec.vocab();
        if (greedyLogits.length < n * vocab) {
            greedyLogits = new float[n * vocab];
        }
        forward(batch, greedyLogits);
        ModelRunner.sampleRows(greedyLogits, rows, n, vocab, nextIds, samplingRule);
        return true;
    }

    private void validate(Batch batch) {
        for (int t = 0; t < batch.size; t++) {
            int id = batch.tokens[t];
            if (id < 0 || id >= spec.vocab()) {
                throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + name
                        + " (ids 0.." + (spec.vocab() - 1) + ")");
            }
            int p = batch.positions[t];
            if (p < 0 || p >= spec.contextLength()) {
                throw new IllegalArgumentException("position " + p + " is outside the context of " + name + " ("
                        + spec.contextLength() + " tokens)");
            }
        }
    }

    /**
     * Token rows (plus learned positions, plus BLOOM's embedding norm). A rank holds the rows of its vocabulary
     * range: it writes those and zeros elsewhere, and the all-reduce assembles every row (adding zeros is exact).
     */
    private void embed(Batch batch) {
        int h = spec.hidden();
        Tensor emb = weights.tokenEmbedding();
        Tensor pos = weights.positionEmbedding();
        for (int t = 0; t < batch.size; t++) {
            int id = batch.tokens[t];
            int o = t * h;
            if (id >= shard.vocabStart() && id < shard.vocabEnd()) {
                long base = (long) (id - shard.vocabStart()) * h;
                for (int i = 0; i < h; i++) {
                    x[o + i] = emb.getFloat(base + i);
                }
            } else {
                java.util.Arrays.fill(x, o, o + h, 0f);
            }
        }
        if (!shard.isWhole()) {
            shard.allReduce().sum(x, batch.size * h);
        }
        for (int t = 0; t < batch.size; t++) {
            int o = t * h;
            if (pos != null) {
                long pb = (long) batch.positions[t] * h;
                for (int i = 0; i < h; i++) {
                    x[o + i] += pos.getFloat(pb + i);
                }
            }
            if (weights.embeddingNormWeight() != null) {
                Kernels.layerNorm(x, o, x, o, weights.embeddingNormWeight(), weights.embeddingNormBias(), h, spec.norm().eps());
            }
        }
    }

    private void norm(float[] out, int outOff, float[] in, int inOff, float[] w, float[] b) {
        if (spec.norm().kind() == TransformerSpec.NormSpec.Kind.RMS) {
            Kernels.rmsNorm(out, outOff, in, inOff, w, spec.hidden(), spec.norm().eps());
        } else {
            Kernels.layerNorm(out, outOff, in, inOff, w, b, spec.hidden(), spec.norm().eps());
        }
    }

    private void layer(int l, LayerWeights lw, Batch batch) {
        int n = batch.size;
        int h = spec.hidden();
        int qDim = spec.qDim();
        int kvDim = spec.kvDim();
        for (int t = 0; t < n; t++) {
            norm(xn, t * h, x, t * h, lw.norm1Weight(), lw.norm1Bias());
        }
        project(lw, n);
        applyRopeAndStore(l, batch);
        attention.run(this, l, batch);
        rowParallel(lw.wo(), lw.bo(), att, qDim, proj, n);
        if (spec.parallelResidual()) {
            float[] mlpIn = xn;
            if (lw.norm2Weight() != null) {
                for (int t = 0; t < n; t++) {
                    norm(xn2, t * h, x, t * h, lw.norm2Weight(), lw.norm2Bias());
                }
                mlpIn = xn2;
            }
            mlp(lw, mlpIn, n);
            Kernels.add(proj, 0, x, 0, n * h);
            Kernels.add(mlpOut, 0, x, 0, n * h);
        } else {
            if (spec.residualFromNorm()) {
                System.arraycopy(xn, 0, x, 0, n * h);
            }
            Kernels.add(proj, 0, x, 0, n * h);
            for (int t = 0; t < n; t++) {
                norm(xn2, t * h, x, t * h, lw.norm2Weight(), lw.norm2Bias());
            }
            mlp(lw, xn2, n);
            if (spec.residualFromNorm()) {
                System.arraycopy(xn2, 0, x, 0, n * h);
            }
            Kernels.add(mlpOut, 0, x, 0, n * h);
        }
        assert kvDim > 0;
    }

    /** q, k, v for every token, from three matrices or one fused matrix scattered by head offsets. */
    private void project(LayerWeights lw, int n) {
        int h = spec.hidden();
        int qDim = spec.qDim();
        int kvDim = spec.kvDim();
        int hd = spec.headDim();
        LayerWeights.FusedQkv f = lw.fused();
        if (f != null) {
            int width = f.w().rows();
            matmul.apply(f.w(), xn, 0, h, qkv, 0, width, n, f.bias());
            for (int t = 0; t < n; t++) {
                int src = t * width;
                for (int head = 0; head < spec.heads(); head++) {
                    System.arraycopy(qkv, src + f.qOffset()[head], q, t * qDim + head * hd, hd);
                }
                for (int g = 0; g < spec.kvHeads(); g++) {
                    System.arraycopy(qkv, src + f.kOffset()[g], k, t * kvDim + g * hd, hd);
                    System.arraycopy(qkv, src + f.vOffset()[g], v, t * kvDim + g * hd, hd);
                }
            }
        } else {
            matmul.apply(lw.wq(), xn, 0, h, q, 0, qDim, n, lw.bq());
            matmul.apply(lw.wk(), xn, 0, h, k, 0, kvDim, n, lw.bk());
            matmul.apply(lw.wv(), xn, 0, h, v, 0, kvDim, n, lw.bv());
        }
        float clip = spec.clipQkv();
        if (clip > 0) {
            clamp(q, n * qDim, clip);
            clamp(k, n * kvDim, clip);
            clamp(v, n * kvDim, clip);
        }
    }

    private static void clamp(float[] a, int len, float c) {
        for (int i = 0; i < len; i++) {
            a[i] = Math.max(-c, Math.min(c, a[i]));
        }
    }

    private void applyRopeAndStore(int l, Batch batch) {
        int qDim = spec.qDim();
        int kvDim = spec.kvDim();
        int hd = spec.headDim();
        RotaryEmbedding rope = spec.rope();
        int half = rope == null ? 0 : rope.rotaryDim() / 2;
        for (int t = 0; t < batch.size; t++) {
            if (rope != null) {
                for (int head = 0; head < spec.heads(); head++) {
                    rope.rotate(q, t * qDim + head * hd, cos, sin, t * half);
                }
                for (int g = 0; g < spec.kvHeads(); g++) {
                    rope.rotate(k, t * kvDim + g * hd, cos, sin, t * half);
                }
            }
            KvCache cache = batch.caches[t];
            int p = batch.positions[t];
            if (kvShard != null) {
                kvShard.ensure(cache, p);
            }
            int off = kvOffset(cache, p);
            System.arraycopy(k, t * kvDim, keyBlock(cache, l, p), off, kvDim);
            System.arraycopy(v, t * kvDim, valueBlock(cache, l, p), off, kvDim);
        }
    }

    private float[] keyBlock(KvCache cache, int layer, int p) {
        return kvShard == null ? cache.keyBlock(layer, p) : kvShard.keyBlock(cache, layer, p);
    }

    private float[] valueBlock(KvCache cache, int layer, int p) {
        return kvShard == null ? cache.valueBlock(layer, p) : kvShard.valueBlock(cache, layer, p);
    }

    private int kvOffset(KvCache cache, int p) {
        return kvShard == null ? cache.offset(p) : kvShard.offset(p);
    }

    private void mlp(LayerWeights lw, float[] in, int n) {
        int h = spec.hidden();
        int ffn = spec.ffn();
        if (spec.gatedMlp()) {
            matmul.apply(lw.wGate(), in, 0, h, mlpA, 0, ffn, n, lw.bGate());
            matmul.apply(lw.wUp(), in, 0, h, mlpB, 0, ffn, n, lw.bUp());
            activation.run(this, n * ffn, true);
        } else {
            matmul.apply(lw.wUp(), in, 0, h, mlpA, 0, ffn, n, lw.bUp());
            activation.run(this, n * ffn, false);
        }
        rowParallel(lw.wDown(), lw.bDown(), mlpA, ffn, mlpOut, n);
    }

    /**
     * {@code out = W · in + bias} for a product whose input is split over the ranks (attention output, MLP down):
     * each rank's product is a partial sum, the all-reduce completes it, and the bias is added once, after it.
     */
    private void rowParallel(WeightMatrix w, float[] bias, float[] in, int inStride, float[] out, int n) {
        int h = spec.hidden();
        if (shard.isWhole()) {
            matmul.apply(w, in, 0, inStride, out, 0, h, n, bias);
            return;
        }
        matmul.apply(w, in, 0, inStride, out, 0, h, n, null);
        shard.allReduce().sum(out, n * h);
        if (bias != null) {
            for (int t = 0; t < n; t++) {
                Kernels.add(bias, 0, out, t * h, h);
            }
        }
    }

    @Override
    public void close() throws Exception {
        if (resources != null) {
            resources.close();
        }
    }

    /** {@code mlpA = act(mlpA)} or, gated, {@code mlpA = act(mlpA) * mlpB}, element-wise over the pool. */
    private static final class ActivationTask implements WorkerPool.RangeTask {
        private DecoderModel m;
        private boolean gated;

        void run(DecoderModel model, int count, boolean gated) {
            this.m = model;
            this.gated = gated;
            model.pool.parallelFor(count, 4096, this);
            this.m = null;
        }

        @Override
        public void run(int from, int to, int worker) {
            float[] a = m.mlpA;
            float[] b = m.mlpB;
            switch (m.spec.activation()) {
                case SILU -> {
                    for (int i = from; i < to; i++) {
                        a[i] = Kernels.silu(a[i]);
                    }
                }
                case GELU_TANH -> {
                    for (int i = from; i < to; i++) {
                        a[i] = Kernels.geluTanh(a[i]);
                    }
                }
                case GELU_ERF -> {
                    for (int i = from; i < to; i++) {
                        a[i] = Kernels.geluErf(a[i]);
                    }
                }
                case RELU -> {
                    for (int i = from; i < to; i++) {
                        a[i] = Kernels.relu(a[i]);
                    }
                }
            }
            if (gated) {
                for (int i = from; i < to; i++) {
                    a[i] *= b[i];
                }
            }
        }
    }

    /**
     * Causal attention of every (token, head) pair over its own sequence's cache, positions
     * {@code [start, position]}: scores {@code scale * q·k + alibi}, softmax, weighted sum of values. Each worker
     * keeps its own score buffer.
     */
    private static final class AttentionTask implements WorkerPool.RangeTask {
        private DecoderModel m;
        private Batch batch;
        private int layer;
        private float[][] scores = new float[0][];

        void run(DecoderModel model, int layer, Batch batch) {
            this.m = model;
            this.layer = layer;
            this.batch = batch;
            int threads = model.pool.threads();
            if (scores.length < threads) {
                scores = new float[threads][0];
            }
            model.pool.parallelFor(batch.size * model.spec.heads(), 1, this);
            this.m = null;
            this.batch = null;
        }

        @Override
        public void run(int from, int to, int worker) {
            TransformerSpec s = m.spec;
            int heads = s.heads();
            int hd = s.headDim();
            int group = heads / s.kvHeads();
            float scale = s.attentionScale()[layer];
            float[] slopes = s.alibiSlopes();
            float alibiMul = s.alibiScaledWithScores() ? scale : 1f;
            int window = s.slidingWindow();
            for (int i = from; i < to; i++) {
                int t = i / heads;
                int head = i % heads;
                int g = head / group;
                int p = batch.positions[t];
                KvCache cache = batch.caches[t];
                int start = window > 0 ? Math.max(0, p - window + 1) : 0;
                int len = p - start + 1;
                float[] sc = scores[worker];
                if (sc.length < len) {
                    sc = new float[Math.max(len, Math.min(s.contextLength(), sc.length * 2))];
                    scores[worker] = sc;
                }
                int qOff = t * s.qDim() + head * hd;
                float slope = slopes == null ? 0f : slopes[head] * alibiMul;
                for (int j = start; j <= p; j++) {
                    float dot = Kernels.dot(m.q, qOff, m.keyBlock(cache, layer, j), m.kvOffset(cache, j) + g * hd, hd);
                    sc[j - start] = dot * scale + slope * (j - p);
                }
                Kernels.softmax(sc, 0, len);
                java.util.Arrays.fill(m.att, qOff, qOff + hd, 0f);
                for (int j = start; j <= p; j++) {
                    Kernels.axpy(sc[j - start], m.valueBlock(cache, layer, j), m.kvOffset(cache, j) + g * hd, m.att, qOff, hd);
                }
            }
        }
    }
}
