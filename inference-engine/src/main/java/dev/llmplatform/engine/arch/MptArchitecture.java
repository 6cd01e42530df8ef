package dev.llmplatform.engine.arch;

import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.Checkpoint;
import dev.llmplatform.engine.model.ModelConfig;
import dev.llmplatform.engine.model.ModelLoadException;
import dev.llmplatform.engine.model.Tensor;
import java.util.Arrays;
import java.util.List;

/**
 * MPT: pre-LayerNorm blocks (no biases when {@code no_bias}), ALiBi (or learned positions when alibi is off),
 * fused Wqkv as [q | k | v], optional clipping of q/k/v, exact-GELU MLP, head tied to the embedding.
 */
final class MptArchitecture implements Architecture {

    @Override
    public List<String> modelTypes() {
        return List.of("mpt");
    }

    @Override
    public TransformerSpec spec(ModelConfig c) {
        ModelConfig attn = c.child("attn_config");
        int hidden = c.requireInt("d_model", "hidden_size");
        int layers = c.requireInt("n_layers", "num_hidden_layers");
        int heads = c.requireInt("n_heads", "num_attention_heads");
        int vocab = c.requireInt("vocab_size");
        int context = c.intOr(2048, "max_seq_len");
        int ffn = hidden * c.intOr(4, "expansion_ratio");
        int headDim = hidden / heads;
        boolean alibi = attn.boolOr(false, "alibi");
        if (attn.boolOr(false, "qk_ln")) {
            throw new ModelLoadException(c.file() + ": attn_config.qk_ln is not supported");
        }
        double softmaxScale = attn.doubleOr(1.0 / Math.sqrt(headDim), "softmax_scale");
        float[] scale = new float[layers];
        Arrays.fill(scale, (float) softmaxScale);
        return new TransformerSpec(hidden, layers, heads, heads, headDim, ffn, vocab, context,
                new TransformerSpec.NormSpec(TransformerSpec.NormSpec.Kind.LAYER, (float) c.doubleOr(1e-5, "layer_norm_epsilon")),
                null, alibi ? Alibi.mptSlopes(heads, attn.doubleOr(8, "alibi_bias_max")) : null, false, scale, 0,
                (float) attn.doubleOr(0, "clip_qkv"), false, false, false, TransformerSpec.Activation.GELU_ERF);
    }

    @Override
    public DecoderModel load(Checkpoint ckpt, WorkerPool pool) {
        ModelConfig c = ckpt.config();
        TransformerSpec spec = spec(c);
        int hidden = spec.hidden();
        int layers = spec.layers();
        int heads = spec.heads();
        int headDim = spec.headDim();
        int ffn = spec.ffn();
        int vocab = spec.vocab();
        int context = spec.contextLength();
        boolean alibi = spec.alibiSlopes() != null;

        WeightReader r = new WeightReader(ckpt);
        LayerWeights[] lw = new LayerWeights[layers];
        for (int l = 0; l < layers; l++) {
            String p = "transformer.blocks." + l + ".";
            var fused = LayerWeights.FusedQkv.sequential(r.linear(p + "attn.Wqkv.weight", 3 * hidden, hidden),
                    r.optionalVector(p + "attn.Wqkv.bias", 3 * hidden), heads, heads, headDim);
            lw[l] = new LayerWeights(
                    r.vector(p + "norm_1.weight", hidden), r.optionalVector(p + "norm_1.bias", hidden),
                    r.vector(p + "norm_2.weight", hidden), r.optionalVector(p + "norm_2.bias", hidden),
                    null, null, null, null, null, null, fused,
                    r.linear(p + "attn.out_proj.weight", hidden, hidden), r.optionalVector(p + "attn.out_proj.bias", hidden),
                    null, null,
                    r.linear(p + "ffn.up_proj.weight", ffn, hidden), r.optionalVector(p + "ffn.up_proj.bias", ffn),
                    r.linear(p + "ffn.down_proj.weight", hidden, ffn), r.optionalVector(p + "ffn.down_proj.bias", hidden));
        }
        Tensor wte = r.tensor("transformer.wte.weight", vocab, hidden);
        Tensor wpe = alibi ? null : r.tensor("transformer.wpe.weight", context, hidden);
        ModelWeights w = new ModelWeights(wte, wpe, null, null, lw,
                r.vector("transformer.norm_f.weight", hidden), r.optionalVector("transformer.norm_f.bias", hidden),
                r.lmHead("lm_head.weight", wte, true), null);
        return new DecoderModel(ckpt.dir().getFileName().toString(), spec, w, ckpt, pool);
    }
}
