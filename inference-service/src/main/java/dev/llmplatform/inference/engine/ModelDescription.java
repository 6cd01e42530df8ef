package dev.llmplatform.inference.engine;

/**
 * What is being served, for {@code /actuator/info}, {@code /v1/models} and the logs.
 *
 * @param name               the served model name
 * @param source             where it was loaded from (a path, or the registry and version)
 * @param registry           the registry version it was pulled as, or null for a local directory
 * @param architecture       config.json's {@code model_type} (llama, qwen2, gpt2, ...)
 * @param dtype              the weights' storage format (bf16, f16, f32, q8_0, int4, ...)
 * @param contextLength      the most positions of a sequence (prompt + completion)
 * @param vocabSize          the model's vocabulary size
 * @param kvCacheBlocks      blocks in the KV cache pool
 * @param kvBlockSize        positions per block
 * @param kvCacheBytes       the pool's size in bytes when full
 * @param kvBytesPerPosition KV memory of one position (all layers, keys and values)
 * @param hasChatTemplate    whether {@code /v1/chat/completions} can render conversations for this model
 */
public record ModelDescription(String name, String source, ModelLocator.RegistryVersion registry, String architecture, String dtype, int contextLength,
                               int vocabSize, int kvCacheBlocks, int kvBlockSize, long kvCacheBytes,
                               long kvBytesPerPosition, boolean hasChatTemplate) {

    /** Positions the KV cache can hold in total (all sequences together). */
    public long kvCacheTokens() {
        return (long) kvCacheBlocks * kvBlockSize;
    }
}
