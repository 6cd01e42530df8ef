package dev.llmplatform.engine.arch;

import dev.llmplatform.engine.cpu.RotaryEmbedding;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.Checkpoint;
import dev.llmplatform.engine.model.ModelConfig;
import dev.llmplatform.engine.model.ModelLoadException;
import dev.llmplatform.engine.model.Tensor;
import java.util.Arrays;
import java.util.List;

/**
 * Llama (1, 2, 3), Mistral and Qwen2: pre-RMSNorm blocks, rotary positions (rotate-half), grouped-query
 * attention, SwiGLU MLP. Qwen2 adds q/k/v biases; Llama's {@code attention_bias} and {@code mlp_bias} add biases
 * everywhere; Mistral may restrict attention to a sliding window.
 */
final class LlamaArchitecture implements Architecture {

    @Override
    public List<String> modelTypes() {
        return List.of("llama", "mistral", "qwen2");
    }

    @Override
    public TransformerSpec spec(ModelConfig c) {
        int hidden = c.requireInt("hidden_size");
        int layers = c.requireInt("num_hidden_layers");
        int heads = c.requireInt("num_attention_heads");
        int kvHeads = c.intOr(heads, "num_key_value_heads");
        int headDim = c.intOr(hidden / heads, "head_dim");
        int ffn = c.requireInt("intermediate_size");
        int vocab = c.requireInt("vocab_size");
        int context = c.intOr(2048, "max_position_embeddings");
        if (heads % kvHeads != 0) {
            throw new ModelLoadException(c.file() + ": num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads);
        }
        RotaryEmbedding rope = RopeConfig.read(c, headDim, false, 0);
        int window = 0;
        if (c.modelType().equals("mistral")) {
            window = c.intOr(0, "sliding_window");
        }
        float[] scale = new float[layers];
        Arrays.fill(scale, (float) (1.0 / Math.sqrt(headDim)));
        return new TransformerSpec(hidden, layers, heads, kvHeads, headDim, ffn, vocab, context,
                new TransformerSpec.NormSpec(TransformerSpec.NormSpec.Kind.RMS, (float) c.doubleOr(1e-6, "rms_norm_eps")),
                rope, null, false, scale, window, 0f, false, false, true,
                TransformerSpec.Activation.fromConfig(c.string("hidden_act").orElse("silu"), c.file().toString()));
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
        int qDim = spec.qDim();
        int kvDim = spec.kvDim();
        LayerWeights[] lw = new LayerWeights[layers];
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            lw[l] = new LayerWeights(
                    r.vector(p + "input_layernorm.weight", hidden), null,
                    r.vector(p + "post_attention_layernorm.weight", hidden), null,
                    r.linear(p + "self_attn.q_proj.weight", qDim, hidden), r.optionalVector(p + "self_attn.q_proj.bias", qDim),
                    r.linear(p + "self_attn.k_proj.weight", kvDim, hidden), r.optionalVector(p + "self_attn.k_proj.bias", kvDim),
                    r.linear(p + "self_attn.v_proj.weight", kvDim, hidden), r.optionalVector(p + "self_attn.v_proj.bias", kvDim),
                    null,
                    r.linear(p + "self_attn.o_proj.weight", hidden, qDim), r.optionalVector(p + "self_attn.o_proj.bias", hidden),
                    r.linear(p + "mlp.gate_proj.weight", ffn, hidden), r.optionalVector(p + "mlp.gate_proj.bias", ffn),
                    r.linear(p + "mlp.up_proj.weight", ffn, hidden), r.optionalVector(p + "mlp.up_proj.bias", ffn),
                    r.linear(p + "mlp.down_proj.weight", hidden, ffn), r.optionalVector(p + "mlp.down_proj.bias", hidden));
        }
        Tensor emb = r.tensor("model.embed_tokens.weight", vocab, hidden);
        ModelWeights w = new ModelWeights(emb, null, null, null, lw,
                r.vector("model.norm.weight", hidden), null,
                r.lmHead("lm_head.weight", emb, c.boolOr(false, "tie_word_embeddings")), null);
        return new DecoderModel(ckpt.dir().getFileName().toString(), spec, w, ckpt, pool);
    }
}
