package dev.llmplatform.engine.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.llmplatform.engine.Engine;
import dev.llmplatform.engine.arch.LayerWeights;
import dev.llmplatform.engine.cli.EngineCli;
import dev.llmplatform.engine.cpu.WeightFormat;
import dev.llmplatform.engine.manifest.ArtifactDirectory;
import dev.llmplatform.engine.manifest.Backend;
import dev.llmplatform.engine.manifest.EngineManifest;
import dev.llmplatform.engine.manifest.FileDigests;
import dev.llmplatform.engine.manifest.ManifestJson;
import dev.llmplatform.engine.runtime.Generator;
import dev.llmplatform.engine.runtime.SamplingParams;
import dev.llmplatform.engine.testing.SharedFixtures;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code build} writes engine directories that load through Engine.load, with a manifest that describes them. */
class EngineBuilderTest {

    private static EngineBuilder.Options options(QuantMethod q, int group, Path out) {
        return new EngineBuilder.Options(SharedFixtures.bundledKjvDemo(), Backend.CPU, q, group, null, out);
    }

    @Test
    void int4EngineLoadsQuantizedWithAShorterLastGroupAndAManifest(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("int4");
        EngineManifest m = EngineBuilder.build(options(QuantMethod.INT4, 128, out));
        assertEquals("int4", m.quantization().method());
        assertEquals(4, m.quantization().bits());
        assertEquals(128, m.quantization().groupSize());
        assertTrue(m.quantization().weights() && !m.quantization().activations() && !m.quantization().kvCache());
        assertEquals(Backend.CPU, m.backend());
        assertEquals("bf16", m.dtype());
        assertEquals(EngineBuilder.BUILDER_VERSION, m.builderVersion());
        assertEquals(FileDigests.treeDigest(ArtifactDirectory.scan(SharedFixtures.bundledKjvDemo())), m.source().sha256());
        EngineManifest read = ManifestJson.read(out);
        assertEquals(m, read);
        ArtifactDirectory.verify(read, out); // every listed file with its size and sha256
        assertTrue(read.file("tokenizer.json").isPresent() && read.file("model.safetensors").isPresent());

        try (Engine e = Engine.load(out, 2)) {
            LayerWeights l = e.model().weights().layers()[0];
            assertEquals(WeightFormat.INT4, l.wDown().format());
            assertEquals(864, l.wDown().cols(), "864 = 6 x 128 + 96: the last group of each row is 96 wide");
            assertEquals(7, l.wDown().quant().scales().byteSize() / 4 / l.wDown().rows());
            assertEquals(WeightFormat.INT8, e.model().weights().lmHead().format(), "the LM head is int8, as llama.cpp keeps it higher");
            int[] prompt = e.encodePrompt("And the LORD said unto Moses,", Engine.BosPolicy.AUTO);
            Generator.Result r = e.generator().generate(prompt, 12, SamplingParams.GREEDY, Set.of(), id -> true);
            assertTrue(e.requireTokenizer().decode(r.outputIds()).startsWith(" Go unto"), "still recites the verse");
        }
        long bf16 = Files.size(SharedFixtures.bundledKjvDemo().resolve("model.safetensors"));
        assertTrue(Files.size(out.resolve("model.safetensors")) < bf16 / 2, "int4 blocks (and the bf16 embedding) are under half the bf16 file");
    }

    @Test
    void int8EngineIsPerChannel(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("int8");
        EngineBuilder.build(options(QuantMethod.INT8, 0, out));
        try (Engine e = Engine.load(out, 2)) {
            LayerWeights l = e.model().weights().layers()[0];
            assertEquals(WeightFormat.INT8, l.wq().format());
            assertEquals(4L * l.wq().rows(), l.wq().quant().scales().byteSize());
        }
    }

    @Test
    void gpuOnlyChoicesAreRefusedClearly(@TempDir Path tmp) {
        String cuda = assertThrows(IllegalArgumentException.class, () -> EngineBuilder.build(
                new EngineBuilder.Options(SharedFixtures.bundledKjvDemo(), Backend.CUDA, QuantMethod.INT4, 128, null, tmp.resolve("a")))).getMessage();
        assertTrue(cuda.contains("GPU backend is not available"), cuda);
        String fp8 = assertThrows(IllegalArgumentException.class, () -> EngineBuilder.build(options(QuantMethod.FP8, 0, tmp.resolve("b")))).getMessage();
        assertTrue(fp8.contains("fp8") && fp8.contains("not available"), fp8);
        String kv = assertThrows(IllegalArgumentException.class, () -> EngineBuilder.build(new EngineBuilder.Options(
                SharedFixtures.bundledKjvDemo(), Backend.CPU, QuantMethod.INT8, 0, "int8", tmp.resolve("c")))).getMessage();
        assertTrue(kv.contains("KV cache") && kv.contains("not available"), kv);
        String group = assertThrows(IllegalArgumentException.class, () -> EngineBuilder.build(options(QuantMethod.INT4, 48, tmp.resolve("d")))).getMessage();
        assertTrue(group.contains("--group-size"), group);
    }

    @Test
    void commandLineBuildsAndReportsErrorsInOneLine(@TempDir Path tmp) {
        PrintStream err = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true));
        try {
            int status = EngineCli.run("build", "--model", SharedFixtures.bundledKjvDemo().toString(), "--backend", "cuda",
                    "--quant", "fp8", "--out", tmp.resolve("x").toString());
            assertEquals(2, status);
        } finally {
            System.setErr(err);
        }
        assertTrue(buf.toString().startsWith("error: --backend cuda: the GPU backend is not available"), buf.toString());
        assertEquals(0, EngineCli.run("build", "--model", SharedFixtures.bundledKjvDemo().toString(), "--quant", "int8",
                "--out", tmp.resolve("y").toString()));
        assertTrue(Files.isRegularFile(tmp.resolve("y").resolve(EngineManifest.FILE_NAME)));
    }
}
