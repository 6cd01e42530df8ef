package dev.llmplatform.engine.model;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.stream.Stream;
import tools.jackson.databind.node.ObjectNode;

/**
 * A llama.cpp GGUF file of the Llama family read as the Hugging Face checkpoint it was converted from: a config
 * built from the {@code llama.*} metadata, tensors renamed to transformers' names ({@code blk.N.attn_q.weight} ->
 * {@code model.layers.N.self_attn.q_proj.weight}, ...), and the Q/K row permutation undone.
 *
 * <p>Why the permutation: transformers' Llama rotates pairs (i, i + d/2) of each head ("rotate-half"); llama.cpp's
 * converter reorders the rows of q_proj and k_proj so that its kernels can rotate adjacent pairs (2i, 2i + 1):
 * GGUF row {@code h*d + 2i} is HF row {@code h*d + i} and GGUF row {@code h*d + 2i + 1} is HF row
 * {@code h*d + d/2 + i}. Rows are self-contained in every supported type (a Q8_0/Q4_0 row is whole blocks), so
 * the loader copies the q and k rows back into transformers' order (off-heap, about a sixth of the weights) and the
 * shared decoder runs unchanged.
 *
 * <p>Q4_0 matrices are repacked at load, as llama.cpp's own CPU backend repacks them: each 18-byte block (f16 scale,
 * 16 bytes of nibbles) becomes 16 bytes of nibbles in the same order plus an f32 scale and the zero point 8, which
 * is exactly the engine's INT4 layout with group 32 ({@code QuantizedWeights}), whose kernel is faster than one
 * reading the scales inside the blocks. The values are the same. Everything else stays mapped in place.
 *
 * @param file the parsed GGUF (its metadata also feeds the tokenizer)
 */
public record GgufCheckpoint(Checkpoint checkpoint, GgufFile file) {
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The GGUF file that {@code path} names: the file itself, or the single .gguf in a directory without config.json. */
    public static Path find(Path path) {
        if (Files.isRegularFile(path)) {
            return path.getFileName().toString().endsWith(".gguf") || GgufFile.isGguf(path) ? path : null;
        }
        if (Files.isDirectory(path) && !Files.exists(path.resolve("config.json"))) {
            try (Stream<Path> s = Files.list(path)) {
                List<Path> ggufs = s.filter(p -> p.getFileName().toString().endsWith(".gguf")).sorted().toList();
                if (ggufs.size() > 1) {
                    throw new ModelLoadException("model directory " + path + " holds " + ggufs.size()
                            + " GGUF files; name one of them: " + ggufs.stream().map(p -> p.getFileName().toString()).toList());
                }
                return ggufs.isEmpty() ? null : ggufs.getFirst();
            } catch (IOException e) {
                return null;
            }
        }
        return null;
    }

    public static GgufCheckpoint open(Path ggufPath) {
        Arena arena = Arena.ofShared();
        try {
            GgufFile f = GgufFile.open(ggufPath, arena);
            String arch = f.string("general.architecture");
            if (!"llama".equals(arch)) {
                throw new ModelLoadException("GGUF file " + ggufPath + " has general.architecture \"" + arch
                        + "\"; the GGUF loader reads the llama family (llama, mistral as llama.cpp converts them)");
            }
            if (f.has("rope_freqs.weight")) {
                throw new ModelLoadException("GGUF file " + ggufPath + " carries rope_freqs.weight (Llama 3.1-style rope scaling), "
                        + "which the GGUF loader does not read yet; load the Hugging Face checkpoint instead");
            }
            ObjectNode config = config(f);
            ModelConfig mc = new ModelConfig(ggufPath, config);
            int heads = mc.requireInt("num_attention_heads");
            int kvHeads = mc.requireInt("num_key_value_heads");
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("model.embed_tokens.weight", f.tensor("token_embd.weight", "model.embed_tokens.weight"));
            int layers = mc.requireInt("num_hidden_layers");
            for (int l = 0; l < layers; l++) {
                String g = "blk." + l + ".";
                String h = "model.layers." + l + ".";
                put(tensors, f, g + "attn_norm.weight", h + "input_layernorm.weight");
                matrix(tensors, unpermute(f.tensor(g + "attn_q.weight", h + "self_attn.q_proj.weight"), heads, arena), arena);
                matrix(tensors, unpermute(f.tensor(g + "attn_k.weight", h + "self_attn.k_proj.weight"), kvHeads, arena), arena);
                matrix(tensors, f.tensor(g + "attn_v.weight", h + "self_attn.v_proj.weight"), arena);
                matrix(tensors, f.tensor(g + "attn_output.weight", h + "self_attn.o_proj.weight"), arena);
                put(tensors, f, g + "ffn_norm.weight", h + "post_attention_layernorm.weight");
                matrix(tensors, f.tensor(g + "ffn_gate.weight", h + "mlp.gate_proj.weight"), arena);
                matrix(tensors, f.tensor(g + "ffn_up.weight", h + "mlp.up_proj.weight"), arena);
                matrix(tensors, f.tensor(g + "ffn_down.weight", h + "mlp.down_proj.weight"), arena);
            }
            put(tensors, f, "output_norm.weight", "model.norm.weight");
            if (f.has("output.weight")) {
                matrix(tensors, f.tensor("output.weight", "lm_head.weight"), arena);
            }
            List<Integer> eos = new ArrayList<>();
            long eosId = f.longOr(-1, "tokenizer.ggml.eos_token_id");
            if (eosId >= 0) {
                eos.add((int) eosId);
            }
            long bos = f.longOr(-1, "tokenizer.ggml.bos_token_id");
            GenerationConfig gen = new GenerationConfig(eos, bos >= 0 ? OptionalInt.of((int) bos) : OptionalInt.empty(),
                    OptionalDouble.empty(), OptionalDouble.empty(), OptionalInt.empty(), OptionalDouble.empty(), false);
            return new GgufCheckpoint(Checkpoint.of(ggufPath, mc, gen, tensors, arena), f);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** A projection matrix: as it is, or, for Q4_0, repacked into the INT4 tensors (see the class comment). */
    private static void matrix(Map<String, Tensor> tensors, Tensor t, Arena arena) {
        if (t.dtype() != DType.Q4_0) {
            tensors.put(t.name(), t);
            return;
        }
        int rows = t.dim(0);
        int blocks = t.dim(1) / 32;
        MemorySegment q = arena.allocate((long) rows * blocks * 16, 64);
        MemorySegment s = arena.allocate((long) rows * blocks * 4, 64);
        MemorySegment z = arena.allocate((long) rows * blocks, 64);
        MemorySegment src = t.data();
        for (long b = 0, n = (long) rows * blocks; b < n; b++) {
            MemorySegment.copy(src, b * 18 + 2, q, b * 16, 16);
            s.set(F32_LE, b * 4, Float.float16ToFloat(src.get(I16_LE, b * 18)));
        }
        z.fill((byte) 8);
        tensors.put(t.name(), new Tensor(t.name(), DType.U8, new long[] {rows, blocks * 16L}, q, t.file()));
        tensors.put(t.name() + "_scale", new Tensor(t.name() + "_scale", DType.F32, new long[] {rows, blocks}, s, t.file()));
        tensors.put(t.name() + "_zero_point", new Tensor(t.name() + "_zero_point", DType.U8, new long[] {rows, blocks}, z, t.file()));
    }

    private static void put(Map<String, Tensor> tensors, GgufFile f, String gguf, String hf) {
        tensors.put(hf, f.tensor(gguf, hf));
    }

    /** config.json's keys from the {@code llama.*} metadata. */
    private static ObjectNode config(GgufFile f) {
        ObjectNode c = ModelConfig.JSON.createObjectNode();
        c.put("model_type", "llama");
        int hidden = (int) require(f, "llama.embedding_length");
        int heads = (int) require(f, "llama.attention.head_count");
        c.put("hidden_size", hidden);
        c.put("num_hidden_layers", (int) require(f, "llama.block_count"));
        c.put("num_attention_heads", heads);
        c.put("num_key_value_heads", (int) f.longOr(heads, "llama.attention.head_count_kv"));
        c.put("head_dim", (int) f.longOr(hidden / heads, "llama.attention.key_length"));
        c.put("intermediate_size", (int) require(f, "llama.feed_forward_length"));
        long vocab = f.longOr(-1, "llama.vocab_size");
        if (vocab < 0) {
            GgufFile.TensorInfo emb = f.tensorInfos().get("token_embd.weight");
            vocab = emb == null ? 0 : emb.shape()[0];
        }
        c.put("vocab_size", (int) vocab);
        c.put("max_position_embeddings", (int) f.longOr(2048, "llama.context_length"));
        c.put("rms_norm_eps", f.doubleOr(1e-5, "llama.attention.layer_norm_rms_epsilon"));
        c.put("rope_theta", f.doubleOr(10000.0, "llama.rope.freq_base"));
        String scaling = f.string("llama.rope.scaling.type");
        if ("linear".equals(scaling)) {
            ObjectNode rs = c.putObject("rope_scaling");
            rs.put("rope_type", "linear");
            rs.put("factor", f.doubleOr(1.0, "llama.rope.scaling.factor"));
        } else if (scaling != null && !"none".equals(scaling)) {
            throw new ModelLoadException("GGUF file " + f.file() + " uses rope scaling \"" + scaling + "\"; the GGUF loader reads none or linear");
        }
        c.put("tie_word_embeddings", !f.has("output.weight"));
        c.put("hidden_act", "silu");
        c.putObject("quantization_config").put("group_size", 32); // for Q4_0 matrices repacked as INT4
        return c;
    }

    private static long require(GgufFile f, String key) {
        long v = f.longOr(-1, key);
        if (v <= 0) {
            throw new ModelLoadException("GGUF file " + f.file() + " lacks the metadata key " + key);
        }
        return v;
    }

    /** Copies the rows of a permuted q or k projection back into transformers' rotate-half order. */
    private static Tensor unpermute(Tensor t, int heads, Arena arena) {
        int rows = t.dim(0);
        if (rows % heads != 0 || (rows / heads) % 2 != 0) {
            throw new ModelLoadException("tensor " + t.name() + " has " + rows + " rows, not " + heads + " heads of an even width");
        }
        int d = rows / heads;
        long rowBytes = t.data().byteSize() / rows;
        MemorySegment out = arena.allocate(t.data().byteSize(), 64);
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < d / 2; i++) {
                long base = (long) h * d;
                MemorySegment.copy(t.data(), (base + 2L * i) * rowBytes, out, (base + i) * rowBytes, rowBytes);
                MemorySegment.copy(t.data(), (base + 2L * i + 1) * rowBytes, out, (base + d / 2 + i) * rowBytes, rowBytes);
            }
        }
        return new Tensor(t.name(), t.dtype(), t.shape(), out, t.file());
    }
}
