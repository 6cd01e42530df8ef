package dev.llmplatform.engine.model;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * One {@code .safetensors} file, memory-mapped read-only. Format: 8-byte little-endian header length N,
 * N bytes of JSON ({@code name -> {dtype, shape, data_offsets:[begin,end)}} relative to the data area),
 * then the data area. Every tensor is a slice of the mapping; nothing is copied.
 */
public final class SafetensorsFile {
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final long MAX_HEADER = 100L * 1024 * 1024;
    private static final byte[] LFS_POINTER = "version https://git-lfs".getBytes(StandardCharsets.US_ASCII);

    private final Path path;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) {
        this.path = path;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Maps {@code path} into {@code arena}; the tensors stay valid while the arena is open. */
    public static SafetensorsFile open(Path path, Arena arena) {
        MemorySegment whole;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            whole = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        } catch (NoSuchFileException e) {
            throw new ModelLoadException("weight file " + path + " does not exist");
        } catch (IOException e) {
            throw new ModelLoadException("cannot read weight file " + path + ": " + e.getMessage(), e);
        }
        long size = whole.byteSize();
        if (size < 8) {
            throw new ModelLoadException("weight file " + path + " is truncated: " + size + " bytes, expected at least an 8-byte header length");
        }
        long headerLen = whole.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLen <= 0 || headerLen > MAX_HEADER || 8 + headerLen > size) {
            // The usual cause: a clone without git-lfs leaves small text pointers where the weights should be.
            if (startsWith(whole, LFS_POINTER)) {
                throw new ModelLoadException("weight file " + path + " is a Git LFS pointer (" + size
                        + " bytes), not the weights: fetch them with git lfs pull");
            }
            throw new ModelLoadException("weight file " + path + " is not a valid safetensors file: header length " + headerLen
                    + " does not fit in the file's " + size + " bytes");
        }
        byte[] headerBytes = whole.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
        JsonNode header;
        try {
            header = JSON.readTree(new String(headerBytes, StandardCharsets.UTF_8));
        } catch (JacksonException e) {
            throw new ModelLoadException("weight file " + path + " has a malformed safetensors header: " + e.getOriginalMessage(), e);
        }
        long dataStart = 8 + headerLen;
        long dataSize = size - dataStart;
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : header.properties()) {
            String name = e.getKey();
            JsonNode info = e.getValue();
            if (name.equals("__metadata__")) {
                for (Map.Entry<String, JsonNode> m : info.properties()) {
                    metadata.put(m.getKey(), m.getValue().asString());
                }
                continue;
            }
            DType dtype;
            try {
                dtype = DType.fromSafetensors(info.path("dtype").asString(""));
            } catch (IllegalArgumentException ex) {
                throw new ModelLoadException("tensor " + name + " in " + path + ": " + ex.getMessage());
            }
            JsonNode shapeNode = info.path("shape");
            long[] shape = new long[shapeNode.size()];
            long count = 1;
            for (int i = 0; i < shape.length; i++) {
                shape[i] = shapeNode.get(i).asLong();
                count *= shape[i];
            }
            JsonNode offs = info.path("data_offsets");
            if (offs.size() != 2) {
                throw new ModelLoadException("tensor " + name + " in " + path + " has no data_offsets [begin, end]");
            }
            long begin = offs.get(0).asLong();
            long end = offs.get(1).asLong();
            long expected = count * dtype.bytes();
            if (end - begin != expected) {
                throw new ModelLoadException("tensor " + name + " in " + path + " has " + (end - begin) + " bytes, expected "
                        + expected + " for " + dtype + java.util.Arrays.toString(shape));
            }
            if (begin < 0 || end > dataSize) {
                throw new ModelLoadException("weight file " + path + " is truncated: tensor " + name + " ends at byte "
                        + (dataStart + end) + " but the file has " + size + " bytes");
            }
            tensors.put(name, new Tensor(name, dtype, shape, whole.asSlice(dataStart + begin, expected), path));
        }
        return new SafetensorsFile(path, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    private static boolean startsWith(MemorySegment data, byte[] prefix) {
        if (data.byteSize() < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (data.get(ValueLayout.JAVA_BYTE, i) != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    public Path path() {
        return path;
    }

    public Map<String, Tensor> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /** True if the file looks like safetensors (used to give a clear message for wrong files). */
    public static boolean exists(Path p) {
        return Files.isRegularFile(p);
    }
}
