package dev.llmplatform.engine.arch;

import dev.llmplatform.engine.cpu.WorkerPool;
import dev.llmplatform.engine.model.Checkpoint;
import dev.llmplatform.engine.model.ModelConfig;
import java.util.List;

/** One family of checkpoints: which {@code model_type}s it reads, and how it maps their weights onto a decoder. */
public interface Architecture {

    /** The config.json {@code model_type} values this family loads. */
    List<String> modelTypes();

    /**
     * The decoder's shape and choices as config.json declares them, without reading weights (what a
     * tensor-parallel engine's rank files need, since they hold the weights in the ranks' own layout).
     */
    TransformerSpec spec(ModelConfig config);

    /** Builds the model; the checkpoint's mappings stay open as long as the model does. */
    DecoderModel load(Checkpoint checkpoint, WorkerPool pool);
}
