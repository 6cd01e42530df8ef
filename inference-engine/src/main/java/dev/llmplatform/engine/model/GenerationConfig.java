package dev.llmplatform.engine.model;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalDouble;
import java.util.OptionalInt;

/**
 * {@code generation_config.json}: the model's default stop ids and sampling settings. Absent file: all empty.
 */
public record GenerationConfig(List<Integer> eosTokenIds, OptionalInt bosTokenId, OptionalDouble temperature,
                               OptionalDouble topP, OptionalInt topK, OptionalDouble repetitionPenalty, boolean doSample) {

    public static GenerationConfig read(Path file) {
        if (!Files.isRegularFile(file)) {
            return new GenerationConfig(List.of(), OptionalInt.empty(), OptionalDouble.empty(), OptionalDouble.empty(),
                    OptionalInt.empty(), OptionalDouble.empty(), false);
        }
        ModelConfig c = ModelConfig.read(file);
        return new GenerationConfig(List.copyOf(c.ids("eos_token_id")), c.optInt("bos_token_id"), c.optDouble("temperature"),
                c.optDouble("top_p"), c.optInt("top_k"), c.optDouble("repetition_penalty"), c.boolOr(false, "do_sample"));
    }
}
