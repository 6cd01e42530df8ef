package dev.llmplatform.engine.model;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file (llama.cpp's model format, versions 2 and 3), memory-mapped: the metadata key/values and the tensors,
 * read in place. Layout, little-endian: magic {@code GGUF}, version u32, tensor count u64, metadata count u64,
 * the metadata (key string, value type u32, value), the tensor infos (name, n_dims u32, dims u64 innermost first,
 * ggml type u32, offset u64 relative to the data section), padding to {@code general.alignment} (32 by default),
 * then the data. Strings are a u64 byte length and UTF-8 bytes.
 *
 * <p>Metadata values become Long (all integer types), Double (f32, f64), Boolean, String, or List of those.
 * Tensors of the ggml types the CPU kernels read (F32, F16, BF16, Q8_0, Q4_0) become {@link Tensor}s with a
 * row-major shape (outermost first, as safetensors has it); any other type is refused by name.
 */
public final class GgufFile {
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** ggml type ids and names, as ggml.h numbers them. */
    private static final String[] GGML_NAMES = {"F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1",
            "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S",
            "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16"};

    /** One tensor as the file describes it; {@code shape} is outermost first. */
    public record TensorInfo(String name, long[] shape, int ggmlType, long offset) {
        public String typeName() {
            return ggmlType >= 0 && ggmlType < GGML_NAMES.length ? GGML_NAMES[ggmlType] : "type " + ggmlType;
        }
    }

    private final Path file;
    private final Map<String, Object> metadata;
    private final Map<String, TensorInfo> infos;
    private final MemorySegment data;

    private GgufFile(Path file, Map<String, Object> metadata, Map<String, TensorInfo> infos, MemorySegment data) {
        this.file = file;
        this.metadata = metadata;
        this.infos = infos;
        this.data = data;
    }

    public static boolean isGguf(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4);
            return ch.read(b) == 4 && new String(b.array(), StandardCharsets.ISO_8859_1).equals("GGUF");
        } catch (IOException e) {
            return false;
        }
    }

    /** Maps {@code file} into {@code arena} and reads its header. */
    public static GgufFile open(Path file, Arena arena) {
        MemorySegment whole;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            whole = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        } catch (IOException e) {
            throw new ModelLoadException("cannot read GGUF file " + file + ": " + e.getMessage());
        }
        Reader r = new Reader(whole, file);
        try {
            if (whole.byteSize() < 24 || r.u32() != 0x46554747) { // "GGUF" little-endian
                throw new ModelLoadException(file + " is not a GGUF file (no GGUF magic)");
            }
            int version = r.u32();
            if (version < 2 || version > 3) {
                throw new ModelLoadException(file + " is GGUF version " + version + "; versions 2 and 3 are supported");
            }
            long tensorCount = r.u64();
            long kvCount = r.u64();
            Map<String, Object> md = new LinkedHashMap<>();
            for (long i = 0; i < kvCount; i++) {
                String key = r.string();
                md.put(key, r.value(r.u32()));
            }
            Map<String, TensorInfo> infos = new LinkedHashMap<>();
            for (long i = 0; i < tensorCount; i++) {
                String name = r.string();
                int dims = r.u32();
                if (dims < 1 || dims > 4) {
                    throw new ModelLoadException(file + ": tensor " + name + " has " + dims + " dimensions");
                }
                long[] shape = new long[dims];
                for (int d = 0; d < dims; d++) {
                    shape[dims - 1 - d] = r.u64();
                }
                infos.put(name, new TensorInfo(name, shape, r.u32(), r.u64()));
            }
            long alignment = md.get("general.alignment") instanceof Long a ? a : 32;
            long start = (r.pos + alignment - 1) / alignment * alignment;
            return new GgufFile(file, md, infos, whole.asSlice(Math.min(start, whole.byteSize())));
        } catch (IndexOutOfBoundsException e) {
            throw new ModelLoadException("GGUF file " + file + " is truncated (its header runs past the end of the file)");
        }
    }

    public Path file() {
        return file;
    }

    public Map<String, Object> metadata() {
        return metadata;
    }

    public Map<String, TensorInfo> tensorInfos() {
        return infos;
    }

    public boolean has(String name) {
        return infos.containsKey(name);
    }

    /** The tensor {@code name} under the name {@code as}, checked to lie within the file. */
    public Tensor tensor(String name, String as) {
        TensorInfo info = infos.get(name);
        if (info == null) {
            throw new ModelLoadException("GGUF file " + file + " has no tensor " + name);
        }
        DType dtype = switch (info.ggmlType()) {
            case 0 -> DType.F32;
            case 1 -> DType.F16;
            case 2 -> DType.Q4_0;
            case 8 -> DType.Q8_0;
            case 30 -> DType.BF16;
            default -> throw new ModelLoadException("tensor " + name + " in " + file.getFileName() + " is " + info.typeName()
                    + "; the engine reads GGUF tensors in F32, F16, BF16, Q8_0 and Q4_0");
        };
        long count = 1;
        for (long d : info.shape()) {
            count *= d;
        }
        long inner = info.shape()[info.shape().length - 1];
        if (inner % dtype.blockElements() != 0) {
            throw new ModelLoadException("tensor " + name + " in " + file.getFileName() + " is " + dtype + " with rows of "
                    + inner + " values, not whole blocks of " + dtype.blockElements());
        }
        long bytes = dtype.byteSize(count);
        if (info.offset() < 0 || info.offset() + bytes > data.byteSize()) {
            throw new ModelLoadException("tensor " + name + " " + Arrays.toString(info.shape()) + " " + dtype + " runs past the end of "
                    + file + " (the file is truncated)");
        }
        return new Tensor(as, dtype, info.shape().clone(), data.asSlice(info.offset(), bytes), file);
    }

    public String string(String key) {
        return metadata.get(key) instanceof String s ? s : null;
    }

    public long longOr(long fallback, String key) {
        return metadata.get(key) instanceof Long l ? l : fallback;
    }

    public double doubleOr(double fallback, String key) {
        Object v = metadata.get(key);
        return v instanceof Double d ? d : v instanceof Long l ? l : fallback;
    }

    /** Reads the header sequentially. */
    private static final class Reader {
        final MemorySegment s;
        final Path file;
        long pos;

        Reader(MemorySegment s, Path file) {
            this.s = s;
            this.file = file;
        }

        int u32() {
            int v = s.get(U32, pos);
            pos += 4;
            return v;
        }

        long u64() {
            long v = s.get(U64, pos);
            pos += 8;
            return v;
        }

        String string() {
            long n = u64();
            if (n < 0 || n > s.byteSize() - pos) {
                throw new ModelLoadException("GGUF file " + file + " has a string of " + n + " bytes at offset " + pos + ", past its end (truncated or corrupt)");
            }
            byte[] b = s.asSlice(pos, n).toArray(ValueLayout.JAVA_BYTE);
            pos += n;
            return new String(b, StandardCharsets.UTF_8);
        }

        Object value(int type) {
            return switch (type) {
                case 0 -> (long) (s.get(ValueLayout.JAVA_BYTE, pos++) & 0xFF);
                case 1 -> (long) s.get(ValueLayout.JAVA_BYTE, pos++);
                case 2 -> { long v = s.get(U16, pos) & 0xFFFF; pos += 2; yield v; }
                case 3 -> { long v = s.get(U16, pos); pos += 2; yield v; }
                case 4 -> u32() & 0xFFFFFFFFL;
                case 5 -> (long) u32();
                case 6 -> { double v = s.get(F32, pos); pos += 4; yield v; }
                case 7 -> s.get(ValueLayout.JAVA_BYTE, pos++) != 0;
                case 8 -> string();
                case 9 -> {
                    int et = u32();
                    long n = u64();
                    if (n < 0 || n > s.byteSize() - pos) {
                        throw new ModelLoadException("GGUF file " + file + " has an array of " + n + " entries at offset " + pos + ", more than it holds (truncated or corrupt)");
                    }
                    List<Object> list = new ArrayList<>((int) n);
                    for (long i = 0; i < n; i++) {
                        list.add(value(et));
                    }
                    yield list;
                }
                case 10, 11 -> u64();
                case 12 -> { double v = s.get(F64, pos); pos += 8; yield v; }
                default -> throw new ModelLoadException("GGUF file " + file + " has a metadata value of unknown type " + type);
            };
        }
    }
}
