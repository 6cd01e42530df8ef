package dev.llmplatform.engine.model;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * Writes a randomly initialised checkpoint of a {@link ModelShape} in the Hugging Face layout (config.json,
 * generation_config.json, safetensors, sharded above {@link #SHARD_BYTES} with an index), streaming the values so
 * that multi-GB checkpoints never sit in memory. Values are uniform with the standard deviation transformers
 * initialises with (0.02), from a seeded xorshift generator (fast and reproducible); norm weights are 1.
 */
public final class RandomCheckpoint {
    static final long SHARD_BYTES = 5L << 30;
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private RandomCheckpoint() {
    }

    private record Spec(String name, long[] shape, boolean ones) {
        long count() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    public static void write(ModelShape s, DType dtype, long seed, Path dir) throws IOException {
        Files.createDirectories(dir);
        List<Spec> tensors = s.modelType().equals("gpt2") ? gpt2Tensors(s) : llamaTensors(s);
        Files.writeString(dir.resolve("config.json"), config(s, dtype));
        Files.writeString(dir.resolve("generation_config.json"), "{\n  \"bos_token_id\": 1,\n  \"eos_token_id\": 2\n}\n");
        // Split into shards of at most SHARD_BYTES, in tensor order.
        List<List<Spec>> shards = new ArrayList<>();
        long bytes = 0;
        for (Spec t : tensors) {
            long b = t.count() * dtype.bytes();
            if (shards.isEmpty() || bytes + b > SHARD_BYTES && !shards.getLast().isEmpty()) {
                shards.add(new ArrayList<>());
                bytes = 0;
            }
            shards.getLast().add(t);
            bytes += b;
        }
        long[] state = {seed * 0x9E3779B97F4A7C15L + 1};
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (int i = 0; i < shards.size(); i++) {
            String file = shards.size() == 1 ? "model.safetensors"
                    : String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
            SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
            for (Spec t : shards.get(i)) {
                w.add(t.name(), dtype, t.shape(), out -> writeValues(out, t, dtype, state));
                weightMap.put(t.name(), file);
            }
            w.write(dir.resolve(file));
        }
        if (shards.size() > 1) {
            ObjectNode index = JSON.createObjectNode();
            index.putObject("metadata").put("total_size", tensors.stream().mapToLong(t -> t.count() * dtype.bytes()).sum());
            ObjectNode map = index.putObject("weight_map");
            weightMap.forEach(map::put);
            Files.writeString(dir.resolve("model.safetensors.index.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(index));
        }
    }

    private static void writeValues(OutputStream out, Spec t, DType dtype, long[] state) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
        float amplitude = (float) (0.02 * Math.sqrt(3)); // uniform in [-a, a] has std a / sqrt(3)
        long x = state[0];
        for (long i = 0, n = t.count(); i < n; i++) {
            float v;
            if (t.ones()) {
                v = 1f;
            } else {
                x ^= x << 13;
                x ^= x >>> 7;
                x ^= x << 17;
                v = ((x >>> 40) * 0x1p-24f * 2f - 1f) * amplitude;
            }
            if (buf.remaining() < 4) {
                out.write(buf.array(), 0, buf.position());
                buf.clear();
            }
            switch (dtype) {
                case F32 -> buf.putFloat(v);
                case BF16 -> buf.putShort((short) (Float.floatToRawIntBits(v) + 0x8000 >>> 16)); // round half up
                case F16 -> buf.putShort(Float.floatToFloat16(v));
                default -> throw new IllegalArgumentException("random checkpoints are f32, f16 or bf16, not " + dtype);
            }
        }
        state[0] = x;
        out.write(buf.array(), 0, buf.position());
    }

    private static List<Spec> llamaTensors(ModelShape s) {
        List<Spec> t = new ArrayList<>();
        long h = s.hidden();
        long kv = (long) s.kvHeads() * s.headDim();
        t.add(new Spec("model.embed_tokens.weight", new long[] {s.vocab(), h}, false));
        for (int l = 0; l < s.layers(); l++) {
            String p = "model.layers." + l + ".";
            t.add(new Spec(p + "input_layernorm.weight", new long[] {h}, true));
            t.add(new Spec(p + "self_attn.q_proj.weight", new long[] {h, h}, false));
            t.add(new Spec(p + "self_attn.k_proj.weight", new long[] {kv, h}, false));
            t.add(new Spec(p + "self_attn.v_proj.weight", new long[] {kv, h}, false));
            if (s.qkvBias()) {
                t.add(new Spec(p + "self_attn.q_proj.bias", new long[] {h}, false));
                t.add(new Spec(p + "self_attn.k_proj.bias", new long[] {kv}, false));
                t.add(new Spec(p + "self_attn.v_proj.bias", new long[] {kv}, false));
            }
            t.add(new Spec(p + "self_attn.o_proj.weight", new long[] {h, h}, false));
            t.add(new Spec(p + "post_attention_layernorm.weight", new long[] {h}, true));
            t.add(new Spec(p + "mlp.gate_proj.weight", new long[] {s.ffn(), h}, false));
            t.add(new Spec(p + "mlp.up_proj.weight", new long[] {s.ffn(), h}, false));
            t.add(new Spec(p + "mlp.down_proj.weight", new long[] {h, s.ffn()}, false));
        }
        t.add(new Spec("model.norm.weight", new long[] {h}, true));
        if (!s.tied()) {
            t.add(new Spec("lm_head.weight", new long[] {s.vocab(), h}, false));
        }
        return t;
    }

    private static List<Spec> gpt2Tensors(ModelShape s) {
        List<Spec> t = new ArrayList<>();
        long h = s.hidden();
        t.add(new Spec("transformer.wte.weight", new long[] {s.vocab(), h}, false));
        t.add(new Spec("transformer.wpe.weight", new long[] {s.context(), h}, false));
        for (int l = 0; l < s.layers(); l++) {
            String p = "transformer.h." + l + ".";
            t.add(new Spec(p + "ln_1.weight", new long[] {h}, true));
            t.add(new Spec(p + "ln_1.bias", new long[] {h}, false));
            t.add(new Spec(p + "attn.c_attn.weight", new long[] {h, 3 * h}, false));
            t.add(new Spec(p + "attn.c_attn.bias", new long[] {3 * h}, false));
            t.add(new Spec(p + "attn.c_proj.weight", new long[] {h, h}, false));
            t.add(new Spec(p + "attn.c_proj.bias", new long[] {h}, false));
            t.add(new Spec(p + "ln_2.weight", new long[] {h}, true));
            t.add(new Spec(p + "ln_2.bias", new long[] {h}, false));
            t.add(new Spec(p + "mlp.c_fc.weight", new long[] {h, s.ffn()}, false));
            t.add(new Spec(p + "mlp.c_fc.bias", new long[] {s.ffn()}, false));
            t.add(new Spec(p + "mlp.c_proj.weight", new long[] {s.ffn(), h}, false));
            t.add(new Spec(p + "mlp.c_proj.bias", new long[] {h}, false));
        }
        t.add(new Spec("transformer.ln_f.weight", new long[] {h}, true));
        t.add(new Spec("transformer.ln_f.bias", new long[] {h}, false));
        return t;
    }

    private static String config(ModelShape s, DType dtype) {
        ObjectNode c = JSON.createObjectNode();
        c.put("model_type", s.modelType());
        String dt = switch (dtype) {
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            default -> "float32";
        };
        c.put("torch_dtype", dt);
        c.put("vocab_size", s.vocab());
        c.put("tie_word_embeddings", s.tied());
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        if (s.modelType().equals("gpt2")) {
            c.putArray("architectures").add("GPT2LMHeadModel");
            c.put("n_embd", s.hidden());
            c.put("n_layer", s.layers());
            c.put("n_head", s.heads());
            c.put("n_inner", s.ffn());
            c.put("n_positions", s.context());
            c.put("activation_function", "gelu_new");
            c.put("layer_norm_epsilon", 1e-5);
        } else {
            String arch = switch (s.modelType()) {
                case "mistral" -> "MistralForCausalLM";
                case "qwen2" -> "Qwen2ForCausalLM";
                default -> "LlamaForCausalLM";
            };
            c.putArray("architectures").add(arch);
            c.put("hidden_size", s.hidden());
            c.put("num_hidden_layers", s.layers());
            c.put("num_attention_heads", s.heads());
            c.put("num_key_value_heads", s.kvHeads());
            c.put("head_dim", s.headDim());
            c.put("intermediate_size", s.ffn());
            c.put("max_position_embeddings", s.context());
            c.put("hidden_act", "silu");
            c.put("rms_norm_eps", 1e-5);
            c.put("rope_theta", s.ropeTheta());
            if (s.ropeScaling() != null) {
                c.set("rope_scaling", JSON.readTree(s.ropeScaling()));
            }
        }
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(c);
    }
}
