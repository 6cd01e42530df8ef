package dev.llmplatform.engine.model;

import java.util.Locale;

/**
 * Element types that appear in checkpoints, with their safetensors names and sizes. {@link #Q8_0} and {@link #Q4_0}
 * are GGUF's block types (llama.cpp's ggml): a row is a run of self-contained blocks of {@link #blockElements()}
 * values in {@link #blockBytes()} bytes each; they have no safetensors name.
 */
public enum DType {
    F32("F32", 4),
    F16("F16", 2),
    BF16("BF16", 2),
    F64("F64", 8),
    I64("I64", 8),
    I32("I32", 4),
    I16("I16", 2),
    I8("I8", 1),
    U8("U8", 1),
    BOOL("BOOL", 1),
    /** ggml Q8_0: blocks of 32 values, an f16 scale d then 32 int8 q; value = q * d. */
    Q8_0(null, 32, 34),
    /** ggml Q4_0: blocks of 32 values, an f16 scale d then 16 bytes (value j low nibble, j+16 high); value = (q - 8) * d. */
    Q4_0(null, 32, 18);

    private final String safetensorsName;
    private final int bytes;
    private final int blockElements;

    DType(String safetensorsName, int bytes) {
        this(safetensorsName, 1, bytes);
    }

    DType(String safetensorsName, int blockElements, int blockBytes) {
        this.safetensorsName = safetensorsName;
        this.bytes = blockBytes;
        this.blockElements = blockElements;
    }

    /** Values per block: 1 for plain element types. */
    public int blockElements() {
        return blockElements;
    }

    /** Bytes per block (per element for plain types). */
    public int blockBytes() {
        return bytes;
    }

    public boolean isBlockQuantized() {
        return blockElements > 1;
    }

    /** Bytes that {@code elements} values occupy; for block types a multiple of the block size is required. */
    public long byteSize(long elements) {
        if (elements % blockElements != 0) {
            throw new IllegalArgumentException(elements + " values are not a whole number of " + this + " blocks of " + blockElements);
        }
        return elements / blockElements * bytes;
    }

    public String safetensorsName() {
        return safetensorsName;
    }

    /** Bytes per element of a plain type (for block types, per block: prefer {@link #byteSize}). */
    public int bytes() {
        return bytes;
    }

    /** True for the float types the CPU kernels read directly as weights. */
    public boolean isWeightFloat() {
        return this == F32 || this == F16 || this == BF16;
    }

    public static DType fromSafetensors(String name) {
        for (DType t : values()) {
            if (name.equals(t.safetensorsName)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown safetensors dtype '" + name + "'");
    }

    /** Parses a user-facing dtype name: f32/float32, f16/float16/half, bf16/bfloat16. */
    public static DType parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "f32", "float32", "float" -> F32;
            case "f16", "float16", "half", "fp16" -> F16;
            case "bf16", "bfloat16" -> BF16;
            default -> throw new IllegalArgumentException("unknown dtype '" + name + "' (expected f32, f16 or bf16)");
        };
    }
}
