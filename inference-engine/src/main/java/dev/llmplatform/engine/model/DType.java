package dev.llmplatform.engine.model;

import java.util.Locale;

/** Element types that appear in checkpoints, with their safetensors names and sizes. */
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
    BOOL("BOOL", 1);

    private final String safetensorsName;
    private final int bytes;

    DType(String safetensorsName, int bytes) {
        this.safetensorsName = safetensorsName;
        this.bytes = bytes;
    }

    public String safetensorsName() {
        return safetensorsName;
    }

    public int bytes() {
        return bytes;
    }

    /** True for the float types the CPU kernels read directly as weights. */
    public boolean isWeightFloat() {
        return this == F32 || this == F16 || this == BF16;
    }

    public static DType fromSafetensors(String name) {
        for (DType t : values()) {
            if (t.safetensorsName.equals(name)) {
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
