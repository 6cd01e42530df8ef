package dev.llmplatform.engine.manifest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The engine manifest: what it records, its JSON form, and the checks that keep a bad manifest out. */
class EngineManifestTest {
    private static final Path KJV = Path.of(System.getProperty("user.dir")).resolve("../models/kjv-demo").normalize();

    private static ArtifactDirectory.Description cpu() {
        return new ArtifactDirectory.Description(null, Backend.CPU, null, Quantization.NONE, "any", 1, "test-builder 1");
    }

    private static EngineManifest sample(List<ManifestFile> files) {
        return new EngineManifest(1, new SourceCheckpoint("meta-llama/Llama-3.2-1B", "a".repeat(64)), "LlamaForCausalLM",
                "llama", Backend.CUDA, "f16", new Quantization("awq", 4, 128, true, false, false), "sm_90", 2,
                "llm-platform engine 0.1.0", files);
    }

    @Test
    void shouldDescribeTheBundledCheckpointFromItsFilesAndConfig() throws Exception {
        EngineManifest m = ArtifactDirectory.describe(KJV, cpu());
        assertEquals("llama", m.modelType());
        assertEquals("LlamaForCausalLM", m.architecture());
        assertEquals("bf16", m.dtype());
        assertEquals("kjv-demo", m.source().name());
        assertEquals(FileDigests.treeDigest(m.files()), m.source().sha256());
        ManifestFile weights = m.file("model.safetensors").orElseThrow();
        assertEquals(Files.size(KJV.resolve("model.safetensors")), weights.size());
        assertEquals(FileDigests.sha256(KJV.resolve("model.safetensors")), weights.sha256());
        assertEquals(List.of("README.md", "config.json", "generation_config.json", "model.safetensors", "reference.json",
                "tokenizer.json", "tokenizer_config.json"), m.files().stream().map(ManifestFile::path).toList());
    }

    @Test
    void shouldRoundTripThroughJsonWithSnakeCaseFieldsInAFixedOrder() {
        EngineManifest m = sample(List.of(new ManifestFile("rank0/model.engine", 10, "b".repeat(64))));
        String json = ManifestJson.toJson(m);
        assertEquals(m, ManifestJson.parse(json));
        assertTrue(json.indexOf("\"format_version\"") < json.indexOf("\"source\""));
        assertTrue(json.contains("\"tensor_parallel_size\" : 2"), json);
        assertTrue(json.contains("\"group_size\" : 128"), json);
        assertTrue(json.contains("\"kv_cache\" : false"), json);
        assertTrue(json.contains("\"backend\" : \"cuda\""), json);
        assertEquals(json, ManifestJson.toJson(ManifestJson.parse(json)), "equal manifests give equal bytes");
    }

    @Test
    void shouldWriteAndReadTheManifestFileInADirectory(@TempDir Path dir) throws Exception {
        EngineManifest m = sample(List.of(new ManifestFile("model.safetensors", 3, "c".repeat(64))));
        Path written = ManifestJson.write(m, dir);
        assertEquals(EngineManifest.FILE_NAME, written.getFileName().toString());
        assertEquals(m, ManifestJson.read(dir));
    }

    @Test
    void shouldIgnoreUnknownFieldsFromANewerBuilder() {
        String json = ManifestJson.toJson(sample(List.of(new ManifestFile("a.bin", 1, "d".repeat(64)))))
                .replaceFirst("\\{", "{ \"optimisation_profile\" : \"fast\",");
        assertEquals("sm_90", ManifestJson.parse(json).targetHardware());
    }

    @Test
    void shouldRefusePathsThatEscapeTheArtifactDirectory() {
        for (String bad : List.of("../etc/passwd", "/abs", "a/../../b", "a//b", "a\\b", "C:x", "./a", "a/.", "", "sp ace")) {
            ManifestException e = assertThrows(ManifestException.class,
                    () -> sample(List.of(new ManifestFile(bad, 1, "e".repeat(64)))).validate(), bad);
            assertTrue(e.getMessage().contains("file path"), e.getMessage());
        }
        assertNull(ArtifactPaths.problem("rank0/model-00001-of-00002.safetensors"));
        assertNull(ArtifactPaths.problem("tokenizer/merges+vocab=v2@x.txt"));
    }

    @Test
    void shouldRefuseMalformedDigestsDuplicatesAndInconsistentQuantization() {
        assertThrows(ManifestException.class, () -> sample(List.of(new ManifestFile("a", 1, "XYZ"))).validate());
        assertThrows(ManifestException.class, () -> sample(List.of(new ManifestFile("a", 1, "f".repeat(64)),
                new ManifestFile("a", 1, "f".repeat(64)))).validate());
        assertThrows(ManifestException.class, () -> sample(List.of(new ManifestFile("a", 1, "f".repeat(64)),
                new ManifestFile("a/b", 1, "f".repeat(64)))).validate());
        EngineManifest m = sample(List.of(new ManifestFile("a", 1, "f".repeat(64))));
        EngineManifest inconsistent = new EngineManifest(1, m.source(), m.architecture(), m.modelType(), m.backend(), m.dtype(),
                new Quantization("none", null, null, true, false, false), m.targetHardware(), 1, m.builderVersion(), m.files());
        assertThrows(ManifestException.class, inconsistent::validate);
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestJson.parse("{\"format_version\": 9}"));
        assertTrue(e.getMessage().contains("format_version 9"), e.getMessage());
        assertThrows(ManifestException.class, () -> ManifestJson.parse("{\"backend\": \"tpu\"}"));
    }

    @Test
    void shouldDetectAFileThatNoLongerMatchesItsManifest(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"gpt2\", \"torch_dtype\": \"float16\"}");
        Files.createDirectories(dir.resolve("weights"));
        Files.write(dir.resolve("weights/w.bin"), new byte[]{1, 2, 3});
        Files.writeString(dir.resolve(".gitattributes"), "ignored");
        EngineManifest m = ArtifactDirectory.describe(dir, cpu());
        assertEquals("f16", m.dtype());
        assertEquals(List.of("config.json", "weights/w.bin"), m.files().stream().map(ManifestFile::path).toList());
        ArtifactDirectory.verify(m, dir);
        Files.write(dir.resolve("weights/w.bin"), new byte[]{1, 2, 4});
        ManifestException e = assertThrows(ManifestException.class, () -> ArtifactDirectory.verify(m, dir));
        assertTrue(e.getMessage().startsWith("weights/w.bin: sha256"), e.getMessage());
    }
}
