package dev.llmplatform.engine.arch;

import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.Checkpoint;
import java.util.List;

/** One family of checkpoints: which {@code model_type}s it reads, and how it maps their weights onto a decoder. */
public interface Architecture {

    /** The config.json {@code model_type} values this family loads. */
    List<String> modelTypes();

    /** Builds the model; the checkpoint's mappings stay open as long as the model does. */
    DecoderModel load(Checkpoint checkpoint, WorkerPool pool);
}
