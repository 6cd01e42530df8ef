package dev.llmplatform.engine.model;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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
 * shared decoder runs unchanged; everything else stays mapped in place.
 *
 * @param file the parsed GGUF (its metadata also feeds the tokenizer)
 */
public record GgufCheckpoint(Checkpoint checkpoint, GgufFile file) {

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
                tensors.put(h + "self_attn.q_proj.weight", unpermute(f.tensor(g + "attn_q.weight", h + "self_attn.q_proj.weight"), heads, arena));
                tensors.put(h + "self_attn.k_proj.weight", unpermute(f.tensor(g + "attn_k.weight", h + "self_attn.k_proj.weight"), kvHeads, arena));
                put(tensors, f, g + "attn_v.weight", h + "self_attn.v_proj.weight");
                put(tensors, f, g + "attn_output.weight", h + "self_attn.o_proj.weight");
                put(tensors, f, g + "ffn_norm.weight", h + "post_attention_layernorm.weight");
                put(tensors, f, g + "ffn_gate.weight", h + "mlp.gate_proj.weight");
                put(tensors, f, g + "ffn_up.weight", h + "mlp.up_proj.weight");
                put(tensors, f, g + "ffn_down.weight", h + "mlp.down_proj.weight");
            }
            put(tensors, f, "output_norm.weight", "model.norm.weight");
            if (f.has("output.weight")) {
                put(tensors, f, "output.weight", "lm_head.weight");
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
