package dev.llmplatform.engine.arch;

import dev.llmplatform.engine.cpu.RotaryEmbedding;
import dev.llmplatform.engine.model.ModelConfig;
import dev.llmplatform.engine.model.ModelLoadException;
import tools.jackson.databind.JsonNode;

/**
 * Reads rotary settings from config.json, in either form transformers has used: the newer
 * {@code rope_parameters: {rope_theta, rope_type, factor, ...}} or the older top-level {@code rope_theta} with an
 * optional {@code rope_scaling: {type|rope_type, factor, ...}}; and computes the inverse frequencies for the
 * rope types in use: default, linear, llama3 and yarn. ("dynamic" NTK scaling equals default within the original
 * context, which is what is computed; beyond it transformers rescales per sequence length, which is not done.)
 */
final class RopeConfig {
    private RopeConfig() {
    }

    static RotaryEmbedding read(ModelConfig c, int headDim, boolean interleaved, int rotaryDimOverride) {
        JsonNode params = c.json().get("rope_parameters");
        JsonNode scaling = c.json().get("rope_scaling");
        JsonNode p = params != null && params.isObject() ? params : (scaling != null && scaling.isObject() ? scaling : null);
        double theta = c.doubleOr(10000.0, "rope_theta");
        if (p != null && p.has("rope_theta")) {
            theta = p.get("rope_theta").asDouble();
        }
        String type = "default";
        if (p != null) {
            JsonNode t = p.has("rope_type") ? p.get("rope_type") : p.get("type");
            if (t != null && !t.isNull()) {
                type = t.asString();
            }
        }
        double partial = c.doubleOr(1.0, "partial_rotary_factor");
        if (p != null && p.has("partial_rotary_factor")) {
            partial = p.get("partial_rotary_factor").asDouble();
        }
        int dim = rotaryDimOverride > 0 ? rotaryDimOverride : (int) (headDim * partial);
        float[] inv = defaultInvFreq(theta, dim);
        float scale = 1f;
        switch (type) {
            case "default", "dynamic" -> {
            }
            case "linear" -> {
                float factor = (float) number(p, "factor", c);
                for (int i = 0; i < inv.length; i++) {
                    inv[i] /= factor;
                }
            }
            case "llama3" -> llama3(inv, p, c);
            case "yarn" -> scale = yarn(inv, theta, dim, p, c);
            default -> throw new ModelLoadException(c.file() + ": rope type \"" + type
                    + "\" is not supported (expected default, linear, dynamic, llama3 or yarn)");
        }
        return new RotaryEmbedding(inv, scale, interleaved);
    }

    /** {@code 1 / theta^(2i/dim)} in float32, as transformers computes it. */
    static float[] defaultInvFreq(double theta, int dim) {
        float[] inv = new float[dim / 2];
        for (int i = 0; i < inv.length; i++) {
            float exponent = (float) (2 * i) / (float) dim;
            inv[i] = 1f / (float) Math.pow(theta, exponent);
        }
        return inv;
    }

    private static double number(JsonNode p, String key, ModelConfig c) {
        if (p == null || !p.has(key) || !p.get(key).isNumber()) {
            throw new ModelLoadException(c.file() + ": rope scaling needs a numeric \"" + key + "\"");
        }
        return p.get(key).asDouble();
    }

    private static double numberOr(JsonNode p, String key, double fallback) {
        return p != null && p.has(key) && p.get(key).isNumber() ? p.get(key).asDouble() : fallback;
    }

    private static void llama3(float[] inv, JsonNode p, ModelConfig c) {
        double factor = number(p, "factor", c);
        double low = number(p, "low_freq_factor", c);
        double high = number(p, "high_freq_factor", c);
        double oldContext = number(p, "original_max_position_embeddings", c);
        double lowWavelen = oldContext / low;
        double highWavelen = oldContext / high;
        for (int i = 0; i < inv.length; i++) {
            float f = inv[i];
            double wavelen = 2 * Math.PI / f;
            float scaled = wavelen > lowWavelen ? (float) (f / factor) : f;
            if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) {
                float smooth = (float) ((oldContext / wavelen - low) / (high - low));
                scaled = (1 - smooth) * scaled / (float) factor + smooth * scaled;
            }
            inv[i] = scaled;
        }
    }

    /** YaRN: blends interpolated and extrapolated frequencies over a ramp; returns the cos/sin scale. */
    private static float yarn(float[] inv, double theta, int dim, JsonNode p, ModelConfig c) {
        double factor = number(p, "factor", c);
        double original = numberOr(p, "original_max_position_embeddings", c.doubleOr(2048, "max_position_embeddings"));
        double betaFast = numberOr(p, "beta_fast", 32);
        double betaSlow = numberOr(p, "beta_slow", 1);
        double mscale = numberOr(p, "mscale", 0);
        double mscaleAllDim = numberOr(p, "mscale_all_dim", 0);
        double attentionFactor;
        if (p.has("attention_factor") && p.get("attention_factor").isNumber()) {
            attentionFactor = p.get("attention_factor").asDouble();
        } else if (mscale != 0 && mscaleAllDim != 0) {
            attentionFactor = yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim);
        } else {
            attentionFactor = yarnMscale(factor, 1);
        }
        boolean truncate = !p.has("truncate") || p.get("truncate").asBoolean();
        double low = correctionDim(betaFast, dim, theta, original);
        double high = correctionDim(betaSlow, dim, theta, original);
        if (truncate) {
            low = Math.floor(low);
            high = Math.ceil(high);
        }
        low = Math.max(low, 0);
        high = Math.min(high, dim - 1);
        if (low == high) {
            high += 0.001;
        }
        for (int i = 0; i < inv.length; i++) {
            float posFreq = (float) Math.pow(theta, (float) (2 * i) / (float) dim);
            float extrapolation = 1f / posFreq;
            float interpolation = 1f / ((float) factor * posFreq);
            float ramp = (float) Math.min(1, Math.max(0, (i - low) / (high - low)));
            float extrapolationFactor = 1 - ramp;
            inv[i] = interpolation * (1 - extrapolationFactor) + extrapolation * extrapolationFactor;
        }
        return (float) attentionFactor;
    }

    private static double yarnMscale(double scale, double mscale) {
        return scale <= 1 ? 1.0 : 0.1 * mscale * Math.log(scale) + 1.0;
    }

    private static double correctionDim(double rotations, int dim, double base, double maxPos) {
        return (dim * Math.log(maxPos / (rotations * 2 * Math.PI))) / (2 * Math.log(base));
    }
}
