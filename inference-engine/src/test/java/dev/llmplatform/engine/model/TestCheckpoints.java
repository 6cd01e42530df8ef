package dev.llmplatform.engine.model;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * Writes checkpoints for tests: copies of a fixture with every tensor stored as bf16 or f16, or kept in f32 but
 * rounded to those types (the exact values the converted file holds, so the two must give the same logits up to
 * summation order); sharded copies with an index; and checkpoints from tensors built in the test.
 */
public final class TestCheckpoints {
    public static final JsonMapper JSON = JsonMapper.builder().build();

    private TestCheckpoints() {
    }

    /** A tensor on the heap: row-major float values and its shape. */
    public record HostTensor(long[] shape, float[] values) {
    }

    /** All tensors of one safetensors file, copied to the heap in file order. */
    public static Map<String, HostTensor> readTensors(Path file) {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile.open(file, arena).tensors().forEach((name, t) ->
                    out.put(name, new HostTensor(t.shape().clone(), t.toFloatArray())));
        }
        return out;
    }

    /** bf16 bits of {@code v}, rounded to nearest with ties to even as PyTorch's {@code .to(torch.bfloat16)}. */
    public static short bf16Bits(float v) {
        int bits = Float.floatToRawIntBits(v);
        if (Float.isNaN(v)) {
            return (short) ((bits >>> 16) | 0x40); // keep it a quiet NaN
        }
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    /** The bits {@code v} is stored as in a 16-bit type (f16 rounds to nearest even, subnormals included). */
    public static short bits16(float v, DType dtype) {
        return switch (dtype) {
            case BF16 -> bf16Bits(v);
            case F16 -> Float.floatToFloat16(v);
            default -> throw new IllegalArgumentException("not a 16-bit float type: " + dtype);
        };
    }

    /** {@code v} rounded to {@code dtype} and widened back: exactly what a {@code dtype} file holds. */
    public static float round(float v, DType dtype) {
        return switch (dtype) {
            case F32 -> v;
            case BF16 -> Float.intBitsToFloat((bf16Bits(v) & 0xFFFF) << 16);
            case F16 -> Float.float16ToFloat(Float.floatToFloat16(v));
            default -> throw new IllegalArgumentException("not a float type: " + dtype);
        };
    }

    /** A copy of {@code tensors} with every value rounded to {@code dtype} (still to be stored as f32). */
    public static Map<String, HostTensor> rounded(Map<String, HostTensor> tensors, DType dtype) {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        tensors.forEach((name, t) -> {
            float[] r = new float[t.values().length];
            for (int i = 0; i < r.length; i++) {
                r[i] = round(t.values()[i], dtype);
            }
            out.put(name, new HostTensor(t.shape(), r));
        });
        return out;
    }

    /** Writes {@code tensors} to one safetensors file, each stored as {@code dtype} (F32, BF16 or F16). */
    public static void writeSafetensors(Path file, Map<String, HostTensor> tensors, DType dtype) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
        tensors.forEach((name, t) -> {
            if (dtype == DType.F32) {
                w.addFloat32(name, t.shape(), t.values());
            } else {
                w.add(name, dtype, t.shape(), out -> {
                    ByteBuffer buf = ByteBuffer.allocate(t.values().length * 2).order(ByteOrder.LITTLE_ENDIAN);
                    for (float v : t.values()) {
                        buf.putShort(bits16(v, dtype));
                    }
                    out.write(buf.array());
                });
            }
        });
        w.write(file);
    }

    /** Copies config.json and generation_config.json (when present) from one checkpoint directory to another. */
    public static void copyConfigs(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        for (String name : List.of("config.json", "generation_config.json")) {
            if (Files.exists(from.resolve(name))) {
                Files.copy(from.resolve(name), to.resolve(name));
            }
        }
    }

    /** A checkpoint in {@code dir}: the configs of {@code configsFrom} and {@code tensors} stored as {@code dtype}. */
    public static Path writeCheckpoint(Path dir, Path configsFrom, Map<String, HostTensor> tensors, DType dtype)
            throws IOException {
        copyConfigs(configsFrom, dir);
        writeSafetensors(dir.resolve("model.safetensors"), tensors, dtype);
        return dir;
    }

    /**
     * Writes {@code tensors} (f32) as {@code shards} files named as transformers names them,
     * {@code model-0000i-of-0000n.safetensors}, consecutive runs of tensors each, with
     * {@code model.safetensors.index.json} mapping every tensor to its file.
     */
    public static void writeSharded(Path dir, Map<String, HostTensor> tensors, int shards) throws IOException {
        List<String> names = new ArrayList<>(tensors.keySet());
        ObjectNode index = JSON.createObjectNode();
        ObjectNode weightMap = JSON.createObjectNode();
        long total = 0;
        for (int s = 0; s < shards; s++) {
            String file = String.format("model-%05d-of-%05d.safetensors", s + 1, shards);
            Map<String, HostTensor> part = new LinkedHashMap<>();
            for (String name : names.subList(s * names.size() / shards, (s + 1) * names.size() / shards)) {
                part.put(name, tensors.get(name));
                weightMap.put(name, file);
                total += 4L * tensors.get(name).values().length;
            }
            writeSafetensors(dir.resolve(file), part, DType.F32);
        }
        index.putObject("metadata").put("total_size", total);
        index.set("weight_map", weightMap);
        writeJson(dir.resolve("model.safetensors.index.json"), index);
    }

    public static ObjectNode readJsonObject(Path file) throws IOException {
        return (ObjectNode) JSON.readTree(Files.readString(file));
    }

    public static void writeJson(Path file, JsonNode node) throws IOException {
        Files.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(node));
    }
}
