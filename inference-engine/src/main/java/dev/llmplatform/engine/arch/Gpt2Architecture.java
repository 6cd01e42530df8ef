package dev.llmplatform.engine.arch;

import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.Checkpoint;
import dev.llmplatform.engine.model.ModelConfig;
import dev.llmplatform.engine.model.Tensor;
import java.util.List;

/**
 * GPT-2: learned absolute positions, pre-LayerNorm blocks with biases, one fused Conv1D QKV projection (weights
 * stored transposed, [in, out]), GELU MLP, head tied to the token embedding.
 */
final class Gpt2Architecture implements Architecture {

    @Override
    public List<String> modelTypes() {
        return List.of("gpt2");
    }

    @Override
    public TransformerSpec spec(ModelConfig c) {
        int hidden = c.requireInt("n_embd", "hidden_size");
        int layers = c.requireInt("n_layer", "num_hidden_layers");
        int heads = c.requireInt("n_head", "num_attention_heads");
        int ffn = c.intOr(4 * hidden, "n_inner");
        int vocab = c.requireInt("vocab_size");
        int context = c.requireInt("n_positions", "max_position_embeddings");
        int headDim = hidden / heads;
        float[] scale = new float[layers];
        boolean scaled = c.boolOr(true, "scale_attn_weights");
        boolean byLayer = c.boolOr(false, "scale_attn_by_inverse_layer_idx");
        for (int l = 0; l < layers; l++) {
            double s = scaled ? 1.0 / Math.sqrt(headDim) : 1.0;
            scale[l] = (float) (byLayer ? s / (l + 1) : s);
        }
        return new TransformerSpec(hidden, layers, heads, heads, headDim, ffn, vocab, context,
                new TransformerSpec.NormSpec(TransformerSpec.NormSpec.Kind.LAYER, (float) c.doubleOr(1e-5, "layer_norm_epsilon")),
                null, null, false, scale, 0, 0f, false, false, false,
                TransformerSpec.Activation.fromConfig(c.string("activation_function").orElse("gelu_new"), c.file().toString()));
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

        WeightReader r = new WeightReader(ckpt);
        // Hub checkpoints saved by the original code lack the "transformer." prefix.
        String root = r.has("transformer.wte.weight") ? "transformer." : "";
        LayerWeights[] lw = new LayerWeights[layers];
        for (int l = 0; l < layers; l++) {
            String p = root + "h." + l + ".";
            var fused = LayerWeights.FusedQkv.sequential(r.conv1d(p + "attn.c_attn.weight", 3 * hidden, hidden),
                    r.optionalVector(p + "attn.c_attn.bias", 3 * hidden), heads, heads, headDim);
            lw[l] = new LayerWeights(
                    r.vector(p + "ln_1.weight", hidden), r.optionalVector(p + "ln_1.bias", hidden),
                    r.vector(p + "ln_2.weight", hidden), r.optionalVector(p + "ln_2.bias", hidden),
                    null, null, null, null, null, null, fused,
                    r.conv1d(p + "attn.c_proj.weight", hidden, hidden), r.optionalVector(p + "attn.c_proj.bias", hidden),
                    null, null,
                    r.conv1d(p + "mlp.c_fc.weight", ffn, hidden), r.optionalVector(p + "mlp.c_fc.bias", ffn),
                    r.conv1d(p + "mlp.c_proj.weight", hidden, ffn), r.optionalVector(p + "mlp.c_proj.bias", hidden));
        }
        Tensor wte = r.tensor(root + "wte.weight", vocab, hidden);
        Tensor wpe = r.tensor(root + "wpe.weight", context, hidden);
        ModelWeights w = new ModelWeights(wte, wpe, null, null, lw,
                r.vector(root + "ln_f.weight", hidden), r.optionalVector(root + "ln_f.bias", hidden),
                r.lmHead("lm_head.weight", wte, c.boolOr(true, "tie_word_embeddings")), null);
        return new DecoderModel(ckpt.dir().getFileName().toString(), spec, w, ckpt, pool);
    }
}
