package dev.llmplatform.engine.parallel;

import dev.llmplatform.engine.arch.LayerWeights;
import dev.llmplatform.engine.arch.ModelWeights;
import dev.llmplatform.engine.cpu.WeightMatrix;

/**
 * One rank's weights, cut from the whole model's by a {@link ShardPlan} (Megatron's layout):
 * <ul>
 *   <li>column-parallel (output rows): Q, K, V (or the fused QKV's rows of the rank's heads, regathered as
 *       [q | k | v]), gate and up, with their biases; the token embedding and the LM head by vocabulary rows;</li>
 *   <li>row-parallel (input columns): the attention output and MLP down projections; their biases stay whole and
 *       are added once, after the all-reduce ({@code DecoderModel.rowParallel});</li>
 *   <li>replicated: norms, learned position embeddings.</li>
 * </ul>
 */
final class ModelSharder {
    private final ShardPlan plan;
    private final WeightSlicer slicer;

    ModelSharder(ShardPlan plan, WeightSlicer slicer) {
        this.plan = plan;
        this.slicer = slicer;
    }

    ModelWeights shard(ModelWeights w, int rank) {
        LayerWeights[] layers = new LayerWeights[w.layers().length];
        for (int l = 0; l < layers.length; l++) {
            layers[l] = layer(w.layers()[l], rank);
        }
        int v0 = plan.vocabStart(rank);
        int v1 = plan.vocabEnd(rank);
        return new ModelWeights(WeightSlicer.rows(w.tokenEmbedding(), v0, v1), w.positionEmbedding(), w.embeddingNormWeight(), w.embeddingNormBias(), layers,
                w.finalNormWeight(), w.finalNormBias(), slicer.rows(w.lmHead(), v0, v1), WeightSlicer.slice(w.lmHeadBias(), v0, v1));
    }

    private LayerWeights layer(LayerWeights lw, int rank) {
        int hd = plan.headDim();
        int q0 = plan.headStart(rank) * hd;
        int q1 = q0 + plan.localHeads() * hd;
        int k0 = plan.kvStart(rank) * hd;
        int k1 = k0 + plan.localKvHeads() * hd;
        int f0 = plan.ffnStart(rank);
        int f1 = f0 + plan.localFfn();
        WeightMatrix wq = null;
        WeightMatrix wk = null;
        WeightMatrix wv = null;
        float[] bq = null;
        float[] bk = null;
        float[] bv = null;
        LayerWeights.FusedQkv fused = null;
        if (lw.fused() != null) {
            fused = fusedQkv(lw.fused(), rank);
        } else {
            wq = slicer.rows(lw.wq(), q0, q1);
            wk = slicer.rows(lw.wk(), k0, k1);
            wv = slicer.rows(lw.wv(), k0, k1);
            bq = WeightSlicer.slice(lw.bq(), q0, q1);
            bk = WeightSlicer.slice(lw.bk(), k0, k1);
            bv = WeightSlicer.slice(lw.bv(), k0, k1);
        }
        return new LayerWeights(lw.norm1Weight(), lw.norm1Bias(), lw.norm2Weight(), lw.norm2Bias(),
                wq, bq, wk, bk, wv, bv, fused,
                slicer.cols(lw.wo(), q0, q1, plan.ranks()), lw.bo(),
                lw.wGate() == null ? null : slicer.rows(lw.wGate(), f0, f1), WeightSlicer.slice(lw.bGate(), f0, f1),
                slicer.rows(lw.wUp(), f0, f1), WeightSlicer.slice(lw.bUp(), f0, f1),
                slicer.cols(lw.wDown(), f0, f1, plan.ranks()), lw.bDown());
    }

    /** The rows of the rank's query heads, then of its key heads, then of its value heads, whatever the layout. */
    private LayerWeights.FusedQkv fusedQkv(LayerWeights.FusedQkv f, int rank) {
        int hd = plan.headDim();
        int heads = plan.localHeads();
        int kv = plan.localKvHeads();
        int[] starts = new int[heads + 2 * kv];
        int[] lengths = new int[starts.length];
        java.util.Arrays.fill(lengths, hd);
        for (int i = 0; i < heads; i++) {
            starts[i] = f.qOffset()[plan.headStart(rank) + i];
        }
        for (int i = 0; i < kv; i++) {
            starts[heads + i] = f.kOffset()[plan.kvStart(rank) + i];
            starts[heads + kv + i] = f.vOffset()[plan.kvStart(rank) + i];
        }
        WeightMatrix w = slicer.rows(f.w(), starts, lengths);
        return LayerWeights.FusedQkv.sequential(w, WeightSlicer.gather(f.bias(), starts, lengths), heads, kv, hd);
    }
}
