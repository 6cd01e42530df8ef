package dev.llmplatform.engine.quant;

import dev.llmplatform.engine.arch.Architectures;
import dev.llmplatform.engine.arch.DecoderModel;
import dev.llmplatform.engine.arch.LayerWeights;
import dev.llmplatform.engine.cpu.WeightMatrix;
import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.manifest.ArtifactDirectory;
import dev.llmplatform.engine.manifest.Backend;
import dev.llmplatform.engine.manifest.EngineManifest;
import dev.llmplatform.engine.manifest.FileDigests;
import dev.llmplatform.engine.manifest.ManifestJson;
import dev.llmplatform.engine.manifest.Quantization;
import dev.llmplatform.engine.manifest.SourceCheckpoint;
import dev.llmplatform.engine.model.Checkpoint;
import dev.llmplatform.engine.model.DType;
import dev.llmplatform.engine.model.GgufCheckpoint;
import dev.llmplatform.engine.model.ModelConfig;
import dev.llmplatform.engine.model.ModelLoadException;
import dev.llmplatform.engine.model.SafetensorsWriter;
import dev.llmplatform.engine.model.Tensor;
import dev.llmplatform.engine.parallel.TensorParallel;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Builds a CPU engine directory from a Hugging Face checkpoint: the weights quantized once, in the layout the CPU
 * kernels read in place ({@link QuantizedWeights}), plus config.json (with a {@code quantization_config}), the
 * tokenizer and generation files, and {@value EngineManifest#FILE_NAME}. The result loads through
 * {@code Engine.load} like any checkpoint.
 *
 * <p>What is quantized: every projection matrix of the decoder blocks (q, k, v, o or fused QKV, gate, up, down)
 * and the LM head. The LM head is INT8 even in an INT4 engine, as llama.cpp keeps its output matrix at a higher
 * precision (a tied head gets its own quantized copy, {@code lm_head.weight}, and {@code tie_word_embeddings}
 * becomes false); the token embedding (a row lookup, not a product), norms and biases keep the checkpoint's dtype.
 *
 * <p>Widths the group size does not divide (kjv-demo's FFN is 864 = 6 x 128 + 96): groups run from column 0 and a
 * row's last group is shorter; INT4 needs only that the width be a multiple of 32, and a matrix whose input width
 * is not is stored as INT8 instead (listed under {@code int8_fallback} in the quantization_config).
 *
 * <p>With a tensor-parallel size N above 1 the engine keeps one weight file per rank instead of model.safetensors
 * (as TensorRT-LLM's engines do): the whole engine is built first, then cut by the same code that shards a model
 * at load time ({@link TensorParallel#writeRankFiles}), so a quantized engine is quantized before it is split and
 * its groups are cut only on boundaries. config.json lists the rank files; the manifest records N.
 */
public final class EngineBuilder {
    public static final String BUILDER_VERSION = "llm-platform engine 0.1.0 build";
    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** The build's inputs, as the command line gives them. */
    public record Options(Path model, Backend backend, QuantMethod quant, int groupSize, String kvCache, Path out,
                          int tensorParallelSize) {

        /** An engine for one device (tensor-parallel size 1). */
        public Options(Path model, Backend backend, QuantMethod quant, int groupSize, String kvCache, Path out) {
            this(model, backend, quant, groupSize, kvCache, out, 1);
        }
    }

    private EngineBuilder() {
    }

    public static EngineManifest build(Options o) throws IOException {
        if (o.tensorParallelSize() < 1) {
            throw new IllegalArgumentException("--tp is " + o.tensorParallelSize() + ", expected at least 1");
        }
        if (o.tensorParallelSize() > 1) {
            return buildSplit(o);
        }
        refuseWhatNeedsTheGpu(o);
        if (GgufCheckpoint.find(o.model()) != null) {
            throw new IllegalArgumentException("build reads Hugging Face checkpoints; " + o.model()
                    + " is a GGUF file, which the engine loads directly (no build step)");
        }
        if (o.quant() == QuantMethod.INT4 && (o.groupSize() <= 0 || o.groupSize() % 32 != 0 || o.groupSize() > 4096)) {
            throw new IllegalArgumentException("--group-size is " + o.groupSize() + "; int4 takes 32, 64 or 128 (a multiple of 32)");
        }
        if (Files.exists(o.out()) && (!Files.isDirectory(o.out()) || !isEmpty(o.out()))) {
            throw new IllegalArgumentException("--out " + o.out() + " exists and is not an empty directory");
        }
        Files.createDirectories(o.out());
        List<dev.llmplatform.engine.manifest.ManifestFile> sourceFiles = ArtifactDirectory.scan(o.model());
        String sourceDigest = FileDigests.treeDigest(sourceFiles);
        copyNonWeightFiles(o.model(), o.out());
        try (WorkerPool pool = new WorkerPool(1); DecoderModel model = Architectures.load(o.model(), pool)) {
            Checkpoint ckpt = Checkpoint.open(o.model());
            try {
                writeWeightsAndConfig(o, ckpt, model);
            } finally {
                ckpt.close();
            }
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
        ModelConfig config = ModelConfig.read(o.out().resolve("config.json"));
        String dtype = shortDtype(config.string("torch_dtype").orElse(config.string("dtype").orElse("float32")));
        Quantization q = o.quant() == QuantMethod.NONE ? Quantization.NONE
                : new Quantization(o.quant().id(), o.quant().bits(), o.quant() == QuantMethod.INT4 ? o.groupSize() : null,
                true, false, false);
        EngineManifest manifest = new EngineManifest(EngineManifest.FORMAT_VERSION,
                new SourceCheckpoint(o.model().toAbsolutePath().normalize().getFileName().toString(), sourceDigest),
                config.json().path("architectures").path(0).asString(config.modelType()), config.modelType(), Backend.CPU,
                dtype, q, "any", 1, BUILDER_VERSION, ArtifactDirectory.scan(o.out())).validate();
        ManifestJson.write(manifest, o.out());
        return manifest;
    }

    /**
     * Builds the whole engine in a staging directory beside {@code out}, cuts it into rank files there, and moves
     * the result into {@code out} only when every rank was written: a size that does not fit leaves {@code out}
     * as it was.
     */
    private static EngineManifest buildSplit(Options o) throws IOException {
        int tp = o.tensorParallelSize();
        if (Files.exists(o.out()) && (!Files.isDirectory(o.out()) || !isEmpty(o.out()))) {
            throw new IllegalArgumentException("--out " + o.out() + " exists and is not an empty directory");
        }
        Path parent = o.out().toAbsolutePath().normalize().getParent();
        Files.createDirectories(parent);
        Path staging = Files.createTempDirectory(parent, ".tp-build-");
        try {
            Path whole = staging.resolve("whole");
            Path split = staging.resolve("split");
            EngineManifest one = build(new Options(o.model(), o.backend(), o.quant(), o.groupSize(), o.kvCache(), whole, 1));
            Files.createDirectories(split);
            copyNonWeightFiles(whole, split);
            ObjectNode config = (ObjectNode) ModelConfig.read(whole.resolve("config.json")).json().deepCopy();
            try (WorkerPool pool = new WorkerPool(1); DecoderModel model = Architectures.load(whole, pool)) {
                TensorParallel.writeRankFiles(model, tp, split, config);
            } catch (IOException | RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IOException(e);
            }
            Files.writeString(split.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config));
            Files.createDirectories(o.out());
            try (Stream<Path> files = Files.list(split)) {
                for (Path f : files.toList()) {
                    Files.move(f, o.out().resolve(f.getFileName().toString()));
                }
            }
            EngineManifest manifest = new EngineManifest(EngineManifest.FORMAT_VERSION, one.source(), one.architecture(),
                    one.modelType(), one.backend(), one.dtype(), one.quantization(), one.targetHardware(), tp,
                    BUILDER_VERSION, ArtifactDirectory.scan(o.out())).validate();
            ManifestJson.write(manifest, o.out());
            return manifest;
        } finally {
            try (Stream<Path> all = Files.walk(staging)) {
                for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    private static void refuseWhatNeedsTheGpu(Options o) {
        if (o.backend() != Backend.CPU) {
            throw new IllegalArgumentException("--backend " + o.backend().id() + ": the GPU backend is not available yet "
                    + "(it needs the native CUDA kernels); build --backend cpu");
        }
        if (o.quant() == QuantMethod.FP8) {
            throw new IllegalArgumentException("--quant fp8 needs the GPU backend, which is not available yet; "
                    + "the CPU backend builds none, int8 and int4");
        }
        if (o.kvCache() != null) {
            throw new IllegalArgumentException("--kv-cache " + o.kvCache() + ": a quantized KV cache needs the GPU backend, "
                    + "which is not available yet");
        }
    }

    private static boolean isEmpty(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }

    /** Tokenizer, generation config, chat template, model card: every file but the weights, the config and a manifest. */
    private static void copyNonWeightFiles(Path src, Path out) throws IOException {
        try (Stream<Path> s = Files.list(src)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                String n = p.getFileName().toString();
                if (n.startsWith(".") || n.endsWith(".safetensors") || n.equals("model.safetensors.index.json")
                        || n.equals("config.json") || n.equals(EngineManifest.FILE_NAME)) {
                    continue;
                }
                Files.copy(p, out.resolve(n));
            }
        }
    }

    private static void writeWeightsAndConfig(Options o, Checkpoint ckpt, DecoderModel model) throws IOException {
        Map<String, WeightMatrix> targets = new LinkedHashMap<>();
        if (o.quant() != QuantMethod.NONE) {
            for (LayerWeights l : model.weights().layers()) {
                for (WeightMatrix m : new WeightMatrix[] {l.wq(), l.wk(), l.wv(), l.wo(), l.wGate(), l.wUp(), l.wDown(),
                        l.fused() == null ? null : l.fused().w()}) {
                    if (m != null) {
                        targets.put(m.name(), m);
                    }
                }
            }
        }
        WeightMatrix head = model.weights().lmHead();
        boolean tiedHead = head.name().equals(model.weights().tokenEmbedding().name());
        boolean quantizeHead = o.quant() != QuantMethod.NONE && !ckpt.config().modelType().equals("mpt");
        List<String> int8Fallback = new ArrayList<>();
        SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt").metadata("builder", BUILDER_VERSION);
        for (Tensor t : ckpt.tensors().values()) {
            if (quantizeHead && !tiedHead && t.name().equals(head.name())) {
                continue; // written quantized below
            }
            WeightMatrix m = targets.get(t.name());
            if (m != null) {
                boolean int4 = o.quant() == QuantMethod.INT4 && Int4GroupQuantizer.supports(m.cols());
                if (o.quant() == QuantMethod.INT4 && !int4) {
                    int8Fallback.add(m.name());
                }
                addQuantized(writer, m, m.name(), int4, o.groupSize());
            } else {
                writer.add(t.name(), t.dtype(), t.shape(), out -> copy(t, out));
            }
        }
        if (quantizeHead) {
            addQuantized(writer, head, "lm_head.weight", false, 0);
        }
        writer.write(o.out().resolve("model.safetensors"));

        ObjectNode config = (ObjectNode) ckpt.config().json().deepCopy();
        if (quantizeHead && tiedHead) {
            config.put("tie_word_embeddings", false);
        }
        if (o.quant() != QuantMethod.NONE) {
            ObjectNode q = config.putObject("quantization_config");
            q.put("quant_method", "llm-platform");
            q.put("format", o.quant() == QuantMethod.INT8 ? "int8-per-channel-symmetric" : "int4-group-asymmetric");
            q.put("bits", o.quant().bits());
            if (o.quant() == QuantMethod.INT4) {
                q.put("group_size", o.groupSize());
                q.put("zero_point", true);
                q.put("last_group", "shorter when group_size does not divide the width");
            }
            q.put("weights", "projection matrices of every decoder block");
            q.put("lm_head", quantizeHead ? "int8-per-channel-symmetric" : "unquantized");
            q.put("embedding", "unquantized");
            q.put("activations", "float32 (weight-only)");
            ArrayNode fb = q.putArray("int8_fallback");
            int8Fallback.forEach(fb::add);
        }
        Files.writeString(o.out().resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config));
    }

    private static void copy(Tensor t, OutputStream out) throws IOException {
        byte[] buf = new byte[1 << 20];
        long n = t.data().byteSize();
        for (long off = 0; off < n; off += buf.length) {
            int len = (int) Math.min(buf.length, n - off);
            jdkCopy(t, off, buf, len);
            out.write(buf, 0, len);
        }
    }

    private static void jdkCopy(Tensor t, long off, byte[] buf, int len) {
        java.lang.foreign.MemorySegment.copy(t.data(), ValueLayout.JAVA_BYTE, off, buf, 0, len);
    }

    /**
     * Adds {@code name} (and its scales, zero points) quantized from {@code m}. Rows are quantized in parallel when
     * the writer asks for the values; the scales are kept from that pass for the entries that follow.
     */
    private static void addQuantized(SafetensorsWriter w, WeightMatrix m, String name, boolean int4, int group) {
        int rows = m.rows();
        int cols = m.cols();
        if (!int4) {
            float[] scales = new float[rows];
            w.add(name, DType.I8, new long[] {rows, cols}, out -> {
                byte[] q = new byte[Math.toIntExact((long) rows * cols)];
                IntStream.range(0, rows).parallel().forEach(r -> {
                    float[] row = new float[cols];
                    MatrixRows.read(m, r, row);
                    scales[r] = Int8ChannelQuantizer.quantizeRow(row, cols, q, r * cols);
                });
                out.write(q);
            });
            w.add(name + QuantizedWeights.SCALE, DType.F32, new long[] {rows}, out -> {
                ByteBuffer b = ByteBuffer.allocate(4 * rows).order(ByteOrder.LITTLE_ENDIAN);
                for (float s : scales) {
                    b.putFloat(s);
                }
                out.write(b.array());
            });
            return;
        }
        int groups = Int4GroupQuantizer.groups(cols, group);
        float[] scales = new float[rows * groups];
        byte[] zeros = new byte[rows * groups];
        w.add(name, DType.U8, new long[] {rows, cols / 2}, out -> {
            byte[] packed = new byte[Math.toIntExact((long) rows * cols / 2)];
            IntStream.range(0, rows).parallel().forEach(r -> {
                float[] row = new float[cols];
                MatrixRows.read(m, r, row);
                Int4GroupQuantizer.quantizeRow(row, cols, group, packed, r * (cols / 2), scales, zeros, r * groups);
            });
            out.write(packed);
        });
        w.add(name + QuantizedWeights.SCALE, DType.F32, new long[] {rows, groups}, out -> {
            ByteBuffer b = ByteBuffer.allocate(4 * scales.length).order(ByteOrder.LITTLE_ENDIAN);
            for (float s : scales) {
                b.putFloat(s);
            }
            out.write(b.array());
        });
        w.add(name + QuantizedWeights.ZERO_POINT, DType.U8, new long[] {rows, groups}, out -> out.write(zeros));
    }

    private static String shortDtype(String hf) {
        return switch (hf) {
            case "bfloat16" -> "bf16";
            case "float16" -> "f16";
            case "float32" -> "f32";
            default -> hf;
        };
    }
}
