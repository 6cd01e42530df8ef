package dev.llmplatform.engine.arch;

import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.Checkpoint;
import dev.llmplatform.engine.model.ModelLoadException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The registry of supported architectures, looked up by config.json's {@code model_type}. */
public final class Architectures {
    private static final List<Architecture> ALL = List.of(
            new LlamaArchitecture(), new Gpt2Architecture(), new GptJArchitecture(),
            new FalconArchitecture(), new MptArchitecture(), new BloomArchitecture());

    private Architectures() {
    }

    public static List<String> supportedModelTypes() {
        List<String> out = new ArrayList<>();
        ALL.forEach(a -> out.addAll(a.modelTypes()));
        return out;
    }

    public static Architecture forModelType(String modelType, Path configFile) {
        for (Architecture a : ALL) {
            if (a.modelTypes().contains(modelType)) {
                return a;
            }
        }
        throw new ModelLoadException(configFile + ": model_type \"" + modelType + "\" is not supported (supported: "
                + String.join(", ", supportedModelTypes()) + ")");
    }

    /**
     * Opens the checkpoint directory (or engine directory, or GGUF file: see {@link Checkpoint#open}) and builds its
     * model on {@code pool}.
     */
    public static DecoderModel load(Path dir, WorkerPool pool) {
        return load(Checkpoint.open(dir), pool);
    }

    /** Builds the model of an open checkpoint, which then belongs to the model (closed with it, or on failure). */
    public static DecoderModel load(Checkpoint ckpt, WorkerPool pool) {
        try {
            return forModelType(ckpt.config().modelType(), ckpt.config().file()).load(ckpt, pool);
        } catch (RuntimeException e) {
            ckpt.close();
            throw e;
        }
    }
}
