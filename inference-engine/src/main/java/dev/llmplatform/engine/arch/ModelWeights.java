package dev.llmplatform.engine.arch;

import dev.llmplatform.engine.cpu.WeightMatrix;
import dev.llmplatform.engine.model.Tensor;

/**
 * All weights of a decoder: token embeddings [vocab, hidden], optional learned position embeddings
 * [positions, hidden] (GPT-2), optional embedding LayerNorm (BLOOM), the blocks, the final norm and the LM head
 * (often the embedding matrix itself: tied).
 */
public record ModelWeights(
        Tensor tokenEmbedding, Tensor positionEmbedding,
        float[] embeddingNormWeight, float[] embeddingNormBias,
        LayerWeights[] layers,
        float[] finalNormWeight, float[] finalNormBias,
        WeightMatrix lmHead, float[] lmHeadBias) {
}
