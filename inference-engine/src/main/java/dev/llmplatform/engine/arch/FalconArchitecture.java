package dev.llmplatform.engine.arch;

import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.Checkpoint;
import dev.llmplatform.engine.model.ModelConfig;
import dev.llmplatform.engine.model.ModelLoadException;
import dev.llmplatform.engine.model.Tensor;
import java.util.Arrays;
import java.util.List;

/**
 * Falcon, in its three layouts:
 * <ul>
 *   <li>7B: multi-query (one KV head), attention and MLP in parallel from one LayerNorm, fused QKV as
 *       [all q heads | k | v];</li>
 *   <li>the new decoder architecture (40B, 180B): grouped KV heads, fused QKV grouped per KV head
 *       [q.. k v] per group, two LayerNorms (ln_attn, ln_mlp) unless {@code num_ln_in_parallel_attn} is 1;</li>
 *   <li>RW: one KV head per query head stored [q k v] per head, optionally sequential residual and ALiBi.</li>
 * </ul>
 * Rotary (rotate-half) unless {@code alibi}; ALiBi here is added before the 1/sqrt(d) scale. Exact GELU MLP.
 */
final class FalconArchitecture implements Architecture {

    @Override
    public List<String> modelTypes() {
        return List.of("falcon", "RefinedWeb", "RefinedWebModel");
    }

    @Override
    public TransformerSpec spec(ModelConfig c) {
        int hidden = c.requireInt("hidden_size");
        int layers = c.requireInt("num_hidden_layers", "n_layer");
        int heads = c.requireInt("num_attention_heads", "n_head");
        int vocab = c.requireInt("vocab_size");
        int headDim = hidden / heads;
        int ffn = c.intOr(4 * hidden, "ffn_hidden_size");
        int context = c.intOr(2048, "max_position_embeddings");
        boolean newArch = newArchitecture(c);
        boolean multiQuery = c.boolOr(true, "multi_query");
        boolean parallel = c.boolOr(true, "parallel_attn");
        boolean alibi = c.boolOr(false, "alibi");
        int kvHeads = newArch ? c.intOr(heads, "num_kv_heads", "n_head_kv") : (multiQuery ? 1 : heads);
        if (heads % kvHeads != 0) {
            throw new ModelLoadException(c.file() + ": num_attention_heads " + heads + " is not a multiple of num_kv_heads " + kvHeads);
        }
        float[] scale = new float[layers];
        Arrays.fill(scale, (float) (1.0 / Math.sqrt(headDim)));
        return new TransformerSpec(hidden, layers, heads, kvHeads, headDim, ffn, vocab, context,
                new TransformerSpec.NormSpec(TransformerSpec.NormSpec.Kind.LAYER, (float) c.doubleOr(1e-5, "layer_norm_epsilon")),
                alibi ? null : RopeConfig.read(c, headDim, false, 0),
                alibi ? Alibi.bloomSlopes(heads) : null, true, scale, 0, 0f, parallel || newArch, false, false,
                TransformerSpec.Activation.fromConfig(c.string("activation").orElse("gelu"), c.file().toString()));
    }

    private static boolean newArchitecture(ModelConfig c) {
        return c.boolOr(false, "new_decoder_architecture") || c.has("n_head_kv") && !c.has("multi_query");
    }

    @Override
    public DecoderModel load(Checkpoint ckpt, WorkerPool pool) {
        ModelConfig c = ckpt.config();
        TransformerSpec spec = spec(c);
        int hidden = spec.hidden();
        int layers = spec.layers();
        int heads = spec.heads();
        int kvHeads = spec.kvHeads();
        int headDim = spec.headDim();
        int ffn = spec.ffn();
        int vocab = spec.vocab();
        boolean newArch = newArchitecture(c);
        boolean multiQuery = c.boolOr(true, "multi_query");
        boolean parallel = c.boolOr(true, "parallel_attn");
        int lnInParallel = newArch ? c.intOr(2, "num_ln_in_parallel_attn") : 1;

        WeightReader r = new WeightReader(ckpt);
        int qkvWidth = (heads + 2 * kvHeads) * headDim;
        LayerWeights[] lw = new LayerWeights[layers];
        for (int l = 0; l < layers; l++) {
            String p = "transformer.h." + l + ".";
            var qkvW = r.linear(p + "self_attention.query_key_value.weight", qkvWidth, hidden);
            float[] qkvB = r.optionalVector(p + "self_attention.query_key_value.bias", qkvWidth);
            var fused = newArch || !multiQuery
                    ? LayerWeights.FusedQkv.grouped(qkvW, qkvB, heads, kvHeads, headDim)
                    : LayerWeights.FusedQkv.sequential(qkvW, qkvB, heads, kvHeads, headDim);
            String n1;
            String n2;
            if (newArch && lnInParallel == 2) {
                n1 = p + "ln_attn";
                n2 = p + "ln_mlp";
            } else {
                n1 = p + "input_layernorm";
                n2 = parallel || newArch ? null : p + "post_attention_layernorm";
            }
            lw[l] = new LayerWeights(
                    r.vector(n1 + ".weight", hidden), r.optionalVector(n1 + ".bias", hidden),
                    n2 == null ? null : r.vector(n2 + ".weight", hidden), n2 == null ? null : r.optionalVector(n2 + ".bias", hidden),
                    null, null, null, null, null, null, fused,
                    r.linear(p + "self_attention.dense.weight", hidden, hidden), r.optionalVector(p + "self_attention.dense.bias", hidden),
                    null, null,
                    r.linear(p + "mlp.dense_h_to_4h.weight", ffn, hidden), r.optionalVector(p + "mlp.dense_h_to_4h.bias", ffn),
                    r.linear(p + "mlp.dense_4h_to_h.weight", hidden, ffn), r.optionalVector(p + "mlp.dense_4h_to_h.bias", hidden));
        }
        Tensor emb = r.tensor("transformer.word_embeddings.weight", vocab, hidden);
        ModelWeights w = new ModelWeights(emb, null, null, null, lw,
                r.vector("transformer.ln_f.weight", hidden), r.optionalVector("transformer.ln_f.bias", hidden),
                r.lmHead("lm_head.weight", emb, c.boolOr(true, "tie_word_embeddings")), null);
        return new DecoderModel(ckpt.dir().getFileName().toString(), spec, w, ckpt, pool);
    }
}
