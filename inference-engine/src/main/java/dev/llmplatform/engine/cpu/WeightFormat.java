package dev.llmplatform.engine.cpu;

/**
 * How a {@link WeightMatrix} stores its values, which picks the kernel that reads it. Rows are output channels;
 * every format keeps a row's bytes contiguous, so rows can be split among threads.
 *
 * <ul>
 *   <li>{@link #F32}, {@link #F16}, {@link #BF16}: plain floats, [rows][cols] (or [cols][rows], input-major).
 *   <li>{@link #Q8_0}, {@link #Q4_0}: llama.cpp's GGUF blocks of 32 values along a row, each with its own f16
 *       scale, read in place from the .gguf file (see {@link dev.llmplatform.engine.model.DType#Q8_0}).
 *   <li>{@link #INT8}: symmetric per output channel (W8A16): int8 {@code q[rows][cols]}, f32 {@code scale[rows]};
 *       value = q * scale.
 *   <li>{@link #INT4}: group-wise with zero points (the AWQ/GPTQ family): a row is cut into groups of
 *       {@code groupSize} columns (the last group may be shorter, always a multiple of 32), each with an f32 scale
 *       s and a u8 zero point z in [0, 15]; value = (n - z) * s for the 4-bit n. A row's nibbles are stored in
 *       chunks of 32 columns, 16 bytes each, as GGUF's Q4_0 packs them: byte j holds column j in its low nibble
 *       and column j + 16 in its high nibble, so that one load of L bytes yields two runs of L consecutive
 *       columns. Scales are f32 [rows][groups] (f32 rather than f16 because
 *       the kernel broadcasts one per group, and a conversion there costs a fifth of its speed), zero points u8
 *       [rows][groups].
 * </ul>
 */
public enum WeightFormat {
    F32, F16, BF16, Q8_0, Q4_0, INT8, INT4;

    /** Formats that the quantized kernels ({@link QuantizedMatMul}) read. */
    public boolean isQuantized() {
        return ordinal() >= Q8_0.ordinal();
    }
}
