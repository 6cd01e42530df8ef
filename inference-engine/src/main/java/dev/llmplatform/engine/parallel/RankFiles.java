package dev.llmplatform.engine.parallel;

import dev.llmplatform.engine.arch.LayerWeights;
import dev.llmplatform.engine.arch.ModelWeights;
import dev.llmplatform.engine.arch.TransformerSpec;
import dev.llmplatform.engine.cpu.WeightMatrix;
import dev.llmplatform.engine.model.DType;
import dev.llmplatform.engine.model.ModelConfig;
import dev.llmplatform.engine.model.ModelLoadException;
import dev.llmplatform.engine.model.SafetensorsFile;
import dev.llmplatform.engine.model.SafetensorsWriter;
import dev.llmplatform.engine.model.Tensor;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The weight files of an engine built with {@code --tp N}: one safetensors file per rank ({@code rankR-of-N}),
 * holding exactly the rank's shard in the layout its kernels read, as TensorRT-LLM's engines keep one file per
 * rank; config.json lists them under {@code "tensor_parallel": {"size": N, "rank_files": [...]}}.
 *
 * <p>Names are the decoder's roles, not a checkpoint's ({@code layers.L.wq}, {@code layers.L.qkv} for a fused
 * projection already regathered as [q | k | v] of the rank's heads, {@code layers.L.wo}, {@code embed_tokens},
 * {@code lm_head}, ...): a rank file is read back without the architecture's naming. A quantized matrix keeps
 * {@code NAME_scale} and {@code NAME_zero_point} beside it as in a single-file engine (its group size is
 * config.json's). Metadata: the rank and size (checked on load), the input-major (Conv1D) matrices, and whether the
 * LM head is the embedding (then it is stored once).
 */
final class RankFiles {
    static final String CONFIG_KEY = "tensor_parallel";
    private static final String SCALE = "_scale";
    private static final String ZERO = "_zero_point";

    /** config.json's {@code tensor_parallel} section. */
    record Layout(int size, List<String> files) {
    }

    private RankFiles() {
    }

    static String fileName(int rank, int ranks) {
        return "rank" + rank + "-of-" + ranks + ".safetensors";
    }

    /** The section of a tensor-parallel engine's config.json, or null for any other checkpoint. */
    static Layout layout(ModelConfig config) {
        JsonNode tp = config.json().path(CONFIG_KEY);
        if (tp.isMissingNode()) {
            return null;
        }
        int size = tp.path("size").asInt(0);
        JsonNode files = tp.path("rank_files");
        if (size < 1 || !files.isArray() || files.size() != size) {
            throw new ModelLoadException(config.file() + ": \"" + CONFIG_KEY + "\" must have a size >= 1 and that many "
                    + "rank_files, got " + tp);
        }
        List<String> names = new ArrayList<>();
        for (JsonNode f : files) {
            String name = f.asString();
            if (name.contains("/") || name.contains("\\") || name.startsWith(".")) {
                throw new ModelLoadException(config.file() + ": rank file name '" + name + "' must be a plain file name");
            }
            names.add(name);
        }
        return new Layout(size, names);
    }

    /** Adds the section for {@code ranks} rank files to a config.json being written. */
    static void addLayout(ObjectNode config, int ranks) {
        ObjectNode tp = config.putObject(CONFIG_KEY);
        tp.put("size", ranks);
        ArrayNode files = tp.putArray("rank_files");
        for (int r = 0; r < ranks; r++) {
            files.add(fileName(r, ranks));
        }
    }

    static void write(ModelWeights w, boolean tiedHead, int rank, int ranks, Path file) throws IOException {
        SafetensorsWriter out = new SafetensorsWriter().metadata("format", "llm-platform-tp-rank")
                .metadata("rank", Integer.toString(rank)).metadata("tensor_parallel_size", Integer.toString(ranks))
                .metadata("lm_head_tied", Boolean.toString(tiedHead));
        Set<String> inputMajor = new LinkedHashSet<>();
        Tensor emb = w.tokenEmbedding();
        out.add("embed_tokens", emb.dtype(), emb.shape(), o -> copy(emb.data(), o));
        if (w.positionEmbedding() != null) {
            Tensor pos = w.positionEmbedding();
            out.add("embed_positions", pos.dtype(), pos.shape(), o -> copy(pos.data(), o));
        }
        vector(out, "embed_norm.weight", w.embeddingNormWeight());
        vector(out, "embed_norm.bias", w.embeddingNormBias());
        for (int l = 0; l < w.layers().length; l++) {
            LayerWeights lw = w.layers()[l];
            String p = "layers." + l + ".";
            vector(out, p + "norm1.weight", lw.norm1Weight());
            vector(out, p + "norm1.bias", lw.norm1Bias());
            vector(out, p + "norm2.weight", lw.norm2Weight());
            vector(out, p + "norm2.bias", lw.norm2Bias());
            if (lw.fused() != null) {
                matrix(out, p + "qkv", lw.fused().w(), inputMajor);
                vector(out, p + "qkv.bias", lw.fused().bias());
            }
            matrix(out, p + "wq", lw.wq(), inputMajor);
            vector(out, p + "bq", lw.bq());
            matrix(out, p + "wk", lw.wk(), inputMajor);
            vector(out, p + "bk", lw.bk());
            matrix(out, p + "wv", lw.wv(), inputMajor);
            vector(out, p + "bv", lw.bv());
            matrix(out, p + "wo", lw.wo(), inputMajor);
            vector(out, p + "bo", lw.bo());
            matrix(out, p + "gate", lw.wGate(), inputMajor);
            vector(out, p + "bgate", lw.bGate());
            matrix(out, p + "up", lw.wUp(), inputMajor);
            vector(out, p + "bup", lw.bUp());
            matrix(out, p + "down", lw.wDown(), inputMajor);
            vector(out, p + "bdown", lw.bDown());
        }
        vector(out, "final_norm.weight", w.finalNormWeight());
        vector(out, "final_norm.bias", w.finalNormBias());
        if (!tiedHead) {
            matrix(out, "lm_head", w.lmHead(), inputMajor);
        }
        vector(out, "lm_head.bias", w.lmHeadBias());
        out.metadata("input_major", String.join(",", inputMajor));
        out.write(file);
    }

    static ModelWeights read(SafetensorsFile f, TransformerSpec spec, int rank, int ranks, int groupSize) {
        var md = f.metadata();
        if (!Integer.toString(rank).equals(md.get("rank")) || !Integer.toString(ranks).equals(md.get("tensor_parallel_size"))) {
            throw new ModelLoadException("rank file " + f.path() + " says rank " + md.get("rank") + " of "
                    + md.get("tensor_parallel_size") + ", expected rank " + rank + " of " + ranks);
        }
        Reader r = new Reader(f, Set.of(md.getOrDefault("input_major", "").split(",")), groupSize);
        int h = spec.hidden();
        int hd = spec.headDim();
        int qDim = spec.qDim();
        int kvDim = spec.kvDim();
        int ffn = spec.ffn();
        LayerWeights[] layers = new LayerWeights[spec.layers()];
        for (int l = 0; l < layers.length; l++) {
            String p = "layers." + l + ".";
            LayerWeights.FusedQkv fused = null;
            if (f.tensors().containsKey(p + "qkv")) {
                fused = LayerWeights.FusedQkv.sequential(r.matrix(p + "qkv", qDim + 2 * kvDim, h),
                        r.vector(p + "qkv.bias", qDim + 2 * kvDim), spec.heads(), spec.kvHeads(), hd);
            }
            layers[l] = new LayerWeights(r.vector(p + "norm1.weight", h), r.vector(p + "norm1.bias", h),
                    r.vector(p + "norm2.weight", h), r.vector(p + "norm2.bias", h),
                    r.matrix(p + "wq", qDim, h), r.vector(p + "bq", qDim),
                    r.matrix(p + "wk", kvDim, h), r.vector(p + "bk", kvDim),
                    r.matrix(p + "wv", kvDim, h), r.vector(p + "bv", kvDim), fused,
                    r.required(r.matrix(p + "wo", h, qDim), p + "wo"), r.vector(p + "bo", h),
                    r.matrix(p + "gate", ffn, h), r.vector(p + "bgate", ffn),
                    r.required(r.matrix(p + "up", ffn, h), p + "up"), r.vector(p + "bup", ffn),
                    r.required(r.matrix(p + "down", h, ffn), p + "down"), r.vector(p + "bdown", h));
            if (fused == null && layers[l].wq() == null) {
                throw new ModelLoadException("rank file " + f.path() + " has neither " + p + "qkv nor " + p + "wq");
            }
        }
        Tensor emb = f.tensors().get("embed_tokens");
        if (emb == null) {
            throw new ModelLoadException("rank file " + f.path() + " has no embed_tokens");
        }
        boolean tied = Boolean.parseBoolean(md.get("lm_head_tied"));
        int vocab = emb.dim(0);
        WeightMatrix head = tied ? WeightMatrix.linear(emb) : r.required(r.matrix("lm_head", vocab, h), "lm_head");
        return new ModelWeights(emb, f.tensors().get("embed_positions"), r.vector("embed_norm.weight", h),
                r.vector("embed_norm.bias", h), layers, r.required(r.vector("final_norm.weight", h), "final_norm.weight"),
                r.vector("final_norm.bias", h), head, r.vector("lm_head.bias", vocab));
    }

    /** Reads a rank file's tensors back into matrices and vectors, checking their shapes. */
    private record Reader(SafetensorsFile f, Set<String> inputMajor, int groupSize) {

        WeightMatrix matrix(String name, int rows, int cols) {
            Tensor t = f.tensors().get(name);
            if (t == null) {
                return null;
            }
            Tensor scale = f.tensors().get(name + SCALE);
            WeightMatrix m;
            if (scale == null) {
                m = inputMajor.contains(name) ? WeightMatrix.conv1d(t) : WeightMatrix.linear(t);
            } else if (t.dtype() == DType.I8) {
                m = WeightMatrix.int8(name, t.data(), scale.data(), t.dim(0), t.dim(1));
            } else {
                Tensor zeros = f.tensors().get(name + ZERO);
                if (zeros == null) {
                    throw new ModelLoadException("rank file " + f.path() + ": " + name + " has scales but no " + name + ZERO);
                }
                m = WeightMatrix.int4(name, t.data(), scale.data(), zeros.data(), t.dim(0), 2 * t.dim(1), groupSize);
            }
            if (m.rows() != rows || m.cols() != cols) {
                throw new ModelLoadException("rank file " + f.path() + ": " + name + " is " + m.rows() + " x " + m.cols()
                        + ", but config.json and the tensor-parallel size imply " + rows + " x " + cols);
            }
            return m;
        }

        float[] vector(String name, int n) {
            Tensor t = f.tensors().get(name);
            if (t == null) {
                return null;
            }
            if (t.elementCount() != n) {
                throw new ModelLoadException("rank file " + f.path() + ": " + name + " has " + t.elementCount()
                        + " values, expected " + n);
            }
            return t.toFloatArray();
        }

        <T> T required(T value, String name) {
            if (value == null) {
                throw new ModelLoadException("rank file " + f.path() + " has no " + name);
            }
            return value;
        }
    }

    private static void matrix(SafetensorsWriter out, String name, WeightMatrix m, Set<String> inputMajor) {
        if (m == null) {
            return;
        }
        if (m.dtype().isBlockQuantized()) {
            throw new IllegalArgumentException(m.name() + " is " + m.dtype() + ": GGUF weights are sharded when loaded, "
                    + "not built into rank files");
        }
        long[] shape = m.inputMajor() ? new long[] {m.cols(), m.rows()}
                : m.dtype() == DType.U8 ? new long[] {m.rows(), m.cols() / 2} : new long[] {m.rows(), m.cols()};
        out.add(name, m.dtype(), shape, o -> copy(m.data(), o));
        if (m.inputMajor()) {
            inputMajor.add(name);
        }
        WeightMatrix.QuantParams q = m.quant();
        if (q != null) {
            long groups = q.zeros() == null ? 0 : WeightMatrix.groups(m.cols(), q.groupSize());
            out.add(name + SCALE, DType.F32, q.zeros() == null ? new long[] {m.rows()} : new long[] {m.rows(), groups},
                    o -> copy(q.scales(), o));
            if (q.zeros() != null) {
                out.add(name + ZERO, DType.U8, new long[] {m.rows(), groups}, o -> copy(q.zeros(), o));
            }
        }
    }

    private static void vector(SafetensorsWriter out, String name, float[] v) {
        if (v != null) {
            out.addFloat32(name, new long[] {v.length}, v);
        }
    }

    private static void copy(MemorySegment data, OutputStream out) throws IOException {
        byte[] buf = new byte[1 << 20];
        long n = data.byteSize();
        for (long off = 0; off < n; off += buf.length) {
            int len = (int) Math.min(buf.length, n - off);
            MemorySegment.copy(data, ValueLayout.JAVA_BYTE, off, buf, 0, len);
            out.write(buf, 0, len);
        }
    }
}
