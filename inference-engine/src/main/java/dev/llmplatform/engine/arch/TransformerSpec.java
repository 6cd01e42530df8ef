package dev.llmplatform.engine.arch;

import dev.llmplatform.engine.cpu.RotaryEmbedding;

/**
 * How one architecture's decoder composes its layers: the shape numbers of config.json and the choices that
 * distinguish the families (norm kind, position encoding, parallel or sequential residual, MLP form).
 * Built by each {@link Architecture}; read by {@link DecoderModel}.
 *
 * @param hidden             model width
 * @param layers             decoder blocks
 * @param heads              query heads
 * @param kvHeads            key/value heads (GQA/MQA when fewer than {@code heads})
 * @param headDim            width of one head
 * @param ffn                MLP inner width
 * @param vocab              logits per token
 * @param contextLength      the most positions a sequence may hold
 * @param norm               RMSNorm or LayerNorm, and epsilon
 * @param rope               rotary embedding, or null when positions come from ALiBi or learned embeddings
 * @param alibiSlopes        per-head ALiBi slopes, or null
 * @param alibiScaledWithScores true when ALiBi is added before the softmax scale (Falcon), false when after
 * @param attentionScale     per-layer multiplier of q·k (usually 1/sqrt(headDim))
 * @param slidingWindow      attend to at most this many latest positions, or 0 for all
 * @param clipQkv            clamp q, k, v to [-clip, clip] (MPT), or 0 for none
 * @param parallelResidual   attention and MLP read the same input and add to the residual together (GPT-J, Falcon)
 * @param residualFromNorm   the residual is the norm's output, not its input (BLOOM's
 *                           apply_residual_connection_post_layernorm)
 * @param gatedMlp           down(act(gate(x)) * up(x)) rather than down(act(up(x)))
 * @param activation         the MLP's activation
 */
public record TransformerSpec(
        int hidden, int layers, int heads, int kvHeads, int headDim, int ffn, int vocab, int contextLength,
        NormSpec norm, RotaryEmbedding rope, float[] alibiSlopes, boolean alibiScaledWithScores,
        float[] attentionScale, int slidingWindow, float clipQkv, boolean parallelResidual, boolean residualFromNorm,
        boolean gatedMlp, Activation activation) {

    public int qDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    /**
     * One tensor-parallel rank's spec: its own query heads, KV heads and MLP width, and the ALiBi slopes of its heads
     * (taken by their global index); everything else (width, vocabulary, positions) is the model's.
     */
    public TransformerSpec shard(int heads, int kvHeads, int ffn, float[] alibiSlopes) {
        return new TransformerSpec(hidden, layers, heads, kvHeads, headDim, ffn, vocab, contextLength, norm, rope,
                alibiSlopes, alibiScaledWithScores, attentionScale, slidingWindow, clipQkv, parallelResidual,
                residualFromNorm, gatedMlp, activation);
    }

    /** Which norm the blocks use; LayerNorm may or may not have a bias (that is in the weights). */
    public record NormSpec(Kind kind, float eps) {
        public enum Kind { RMS, LAYER }
    }

    /** MLP activations, by the names config.json uses for them. */
    public enum Activation {
        SILU, GELU_ERF, GELU_TANH, RELU;

        public static Activation fromConfig(String name, String file) {
            return switch (name) {
                case "silu", "swish" -> SILU;
                case "gelu" -> GELU_ERF;
                case "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "bloom_gelu" -> GELU_TANH;
                case "relu" -> RELU;
                default -> throw new dev.llmplatform.engine.model.ModelLoadException(
                        file + ": activation \"" + name + "\" is not supported (expected silu, gelu, gelu_new, gelu_pytorch_tanh or relu)");
            };
        }
    }
}
