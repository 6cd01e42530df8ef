package dev.llmplatform.engine.quant;

import java.util.Locale;

/** The {@code build --quant} choices. FP8 needs the GPU backend and is refused on the CPU. */
public enum QuantMethod {
    NONE(0), INT8(8), INT4(4), FP8(8);

    private final int bits;

    QuantMethod(int bits) {
        this.bits = bits;
    }

    public int bits() {
        return bits;
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static QuantMethod parse(String s) {
        for (QuantMethod m : values()) {
            if (m.id().equalsIgnoreCase(s)) {
                return m;
            }
        }
        throw new IllegalArgumentException("--quant is '" + s + "', expected none, int8, int4 or fp8");
    }
}
