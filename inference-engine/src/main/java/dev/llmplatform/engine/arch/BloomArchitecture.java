package dev.llmplatform.engine.arch;

import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.Checkpoint;
import dev.llmplatform.engine.model.ModelConfig;
import dev.llmplatform.engine.model.Tensor;
import java.util.Arrays;
import java.util.List;

/**
 * BLOOM: a LayerNorm right after the embedding, ALiBi, fused QKV stored [q k v] per head, tanh-GELU MLP,
 * head tied to the embedding; {@code apply_residual_connection_post_layernorm} takes the residual from the norm's
 * output.
 */
final class BloomArchitecture implements Architecture {

    @Override
    public List<String> modelTypes() {
        return List.of("bloom");
    }

    @Override
    public TransformerSpec spec(ModelConfig c) {
        int hidden = c.requireInt("hidden_size", "n_embed");
        int layers = c.requireInt("n_layer", "num_hidden_layers");
        int heads = c.requireInt("n_head", "num_attention_heads");
        int vocab = c.requireInt("vocab_size");
        int context = c.intOr(2048, "seq_length", "max_position_embeddings");
        int headDim = hidden / heads;
        int ffn = 4 * hidden;
        float[] scale = new float[layers];
        Arrays.fill(scale, (float) (1.0 / Math.sqrt(headDim)));
        return new TransformerSpec(hidden, layers, heads, heads, headDim, ffn, vocab, context,
                new TransformerSpec.NormSpec(TransformerSpec.NormSpec.Kind.LAYER, (float) c.doubleOr(1e-5, "layer_norm_epsilon")),
                null, Alibi.bloomSlopes(heads), false, scale, 0, 0f, false,
                c.boolOr(false, "apply_residual_connection_post_layernorm"), false, TransformerSpec.Activation.GELU_TANH);
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

        WeightReader r = new WeightReader(ckpt);
        // bigscience's own checkpoints lack the "transformer." prefix.
        String root = r.has("transformer.word_embeddings.weight") ? "transformer." : "";
        LayerWeights[] lw = new LayerWeights[layers];
        for (int l = 0; l < layers; l++) {
            String p = root + "h." + l + ".";
            var fused = LayerWeights.FusedQkv.grouped(r.linear(p + "self_attention.query_key_value.weight", 3 * hidden, hidden),
                    r.optionalVector(p + "self_attention.query_key_value.bias", 3 * hidden), heads, heads, headDim);
            lw[l] = new LayerWeights(
                    r.vector(p + "input_layernorm.weight", hidden), r.optionalVector(p + "input_layernorm.bias", hidden),
                    r.vector(p + "post_attention_layernorm.weight", hidden), r.optionalVector(p + "post_attention_layernorm.bias", hidden),
                    null, null, null, null, null, null, fused,
                    r.linear(p + "self_attention.dense.weight", hidden, hidden), r.optionalVector(p + "self_attention.dense.bias", hidden),
                    null, null,
                    r.linear(p + "mlp.dense_h_to_4h.weight", ffn, hidden), r.optionalVector(p + "mlp.dense_h_to_4h.bias", ffn),
                    r.linear(p + "mlp.dense_4h_to_h.weight", hidden, ffn), r.optionalVector(p + "mlp.dense_4h_to_h.bias", hidden));
        }
        Tensor emb = r.tensor(root + "word_embeddings.weight", vocab, hidden);
        ModelWeights w = new ModelWeights(emb, null,
                r.vector(root + "word_embeddings_layernorm.weight", hidden), r.optionalVector(root + "word_embeddings_layernorm.bias", hidden),
                lw, r.vector(root + "ln_f.weight", hidden), r.optionalVector(root + "ln_f.bias", hidden),
                r.lmHead("lm_head.weight", emb, c.boolOr(true, "tie_word_embeddings")), null);
        return new DecoderModel(ckpt.dir().getFileName().toString(), spec, w, ckpt, pool);
    }
}
