package dev.llmplatform.engine.cpu;

/**
 * Rotary position embedding: the per-pair inverse frequencies (after any rope scaling), and the rotation of a
 * head vector by {@code position * invFreq[i]}.
 *
 * <p>Two pairings exist: NeoX / Llama "rotate half" pairs element i with i + rotaryDim/2; GPT-J pairs 2i with
 * 2i+1. Only the first {@code rotaryDim} elements of a head rotate (partial rotary); the rest pass through.
 * Angles are computed as transformers does, in float32: {@code (float) position * invFreq[i]}, so that long
 * positions round the same way.
 *
 * @param invFreq   rotaryDim/2 inverse frequencies
 * @param scale     multiplies cos and sin (YaRN's attention factor; 1 otherwise)
 * @param interleaved true for GPT-J's pairing
 */
public record RotaryEmbedding(float[] invFreq, float scale, boolean interleaved) {

    public int rotaryDim() {
        return invFreq.length * 2;
    }

    /** Fills {@code cos[off..off+rotaryDim/2)} and {@code sin[...]} for {@code position}. */
    public void angles(int position, float[] cos, float[] sin, int off) {
        float p = position;
        for (int i = 0; i < invFreq.length; i++) {
            float a = p * invFreq[i];
            cos[off + i] = (float) Math.cos(a) * scale;
            sin[off + i] = (float) Math.sin(a) * scale;
        }
    }

    /** Rotates the head vector at {@code v[vOff ..]} with angles at {@code cos/sin[cOff ..]}. */
    public void rotate(float[] v, int vOff, float[] cos, float[] sin, int cOff) {
        int half = invFreq.length;
        if (interleaved) {
            for (int i = 0; i < half; i++) {
                float c = cos[cOff + i];
                float s = sin[cOff + i];
                float x1 = v[vOff + 2 * i];
                float x2 = v[vOff + 2 * i + 1];
                v[vOff + 2 * i] = x1 * c - x2 * s;
                v[vOff + 2 * i + 1] = x2 * c + x1 * s;
            }
        } else {
            for (int i = 0; i < half; i++) {
                float c = cos[cOff + i];
                float s = sin[cOff + i];
                float x1 = v[vOff + i];
                float x2 = v[vOff + half + i];
                v[vOff + i] = x1 * c - x2 * s;
                v[vOff + half + i] = x2 * c + x1 * s;
            }
        }
    }
}
