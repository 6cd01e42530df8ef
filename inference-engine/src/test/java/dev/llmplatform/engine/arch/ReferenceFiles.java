package dev.llmplatform.engine.arch;

import dev.llmplatform.engine.model.SafetensorsFile;
import dev.llmplatform.engine.model.Tensor;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Map;

/** Opens a reference .safetensors file for a test (not a checkpoint: just its tensors). */
final class ReferenceFiles {
    private ReferenceFiles() {
    }

    interface Tensors extends AutoCloseable {
        Map<String, Tensor> tensors();

        @Override
        void close();
    }

    static Tensors open(Path file) {
        Arena arena = Arena.ofConfined();
        SafetensorsFile f = SafetensorsFile.open(file, arena);
        return new Tensors() {
            public Map<String, Tensor> tensors() {
                return f.tensors();
            }

            public void close() {
                arena.close();
            }
        };
    }
}
