package dev.llmplatform.engine.arch;

import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.Checkpoint;
import dev.llmplatform.engine.model.ModelConfig;
import dev.llmplatform.engine.model.Tensor;
import java.util.Arrays;
import java.util.List;

/**
 * GPT-J: one LayerNorm per block feeding attention and MLP in parallel, partial rotary embedding
 * ({@code rotary_dim}) in the interleaved rotate-every-two form, unbiased attention projections, an untied LM head
 * with a bias.
 */
final class GptJArchitecture implements Architecture {

    @Override
    public List<String> modelTypes() {
        return List.of("gptj");
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
        int rotaryDim = c.intOr(headDim, "rotary_dim");
        float[] scale = new float[layers];
        Arrays.fill(scale, (float) (1.0 / Math.sqrt(headDim)));
        return new TransformerSpec(hidden, layers, heads, heads, headDim, ffn, vocab, context,
                new TransformerSpec.NormSpec(TransformerSpec.NormSpec.Kind.LAYER, (float) c.doubleOr(1e-5, "layer_norm_epsilon")),
                RopeConfig.read(c, headDim, true, rotaryDim), null, false, scale, 0, 0f, true, false, false,
                TransformerSpec.Activation.fromConfig(c.string("activation_function").orElse("gelu_new"), c.file().toString()));
    }

    @Override
    public DecoderModel load(Checkpoint ckpt, WorkerPool pool) {
        ModelConfig c = ckpt.config();
        TransformerSpec spec = spec(c);
        int hidden = spec.hidden();
        int layers = spec.layers();
        int ffn = spec.ffn();
        int vocab = spec.vocab();

        WeightReader r = new WeightReader(ckpt);
        LayerWeights[] lw = new LayerWeights[layers];
        for (int l = 0; l < layers; l++) {
            String p = "transformer.h." + l + ".";
            lw[l] = new LayerWeights(
                    r.vector(p + "ln_1.weight", hidden), r.optionalVector(p + "ln_1.bias", hidden),
                    null, null,
                    r.linear(p + "attn.q_proj.weight", hidden, hidden), null,
                    r.linear(p + "attn.k_proj.weight", hidden, hidden), null,
                    r.linear(p + "attn.v_proj.weight", hidden, hidden), null,
                    null,
                    r.linear(p + "attn.out_proj.weight", hidden, hidden), null,
                    null, null,
                    r.linear(p + "mlp.fc_in.weight", ffn, hidden), r.optionalVector(p + "mlp.fc_in.bias", ffn),
                    r.linear(p + "mlp.fc_out.weight", hidden, ffn), r.optionalVector(p + "mlp.fc_out.bias", hidden));
        }
        Tensor wte = r.tensor("transformer.wte.weight", vocab, hidden);
        ModelWeights w = new ModelWeights(wte, null, null, null, lw,
                r.vector("transformer.ln_f.weight", hidden), r.optionalVector("transformer.ln_f.bias", hidden),
                r.lmHead("lm_head.weight", wte, c.boolOr(false, "tie_word_embeddings")),
                r.optionalVector("lm_head.bias", vocab));
        return new DecoderModel(ckpt.dir().getFileName().toString(), spec, w, ckpt, pool);
    }
}
