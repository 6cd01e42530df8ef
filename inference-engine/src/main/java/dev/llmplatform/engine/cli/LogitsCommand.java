package dev.llmplatform.engine.cli;

import dev.llmplatform.engine.Engine;
import dev.llmplatform.engine.arch.Batch;
import dev.llmplatform.engine.arch.ModelRunner;
import dev.llmplatform.engine.cpu.KvCache;
import dev.llmplatform.engine.model.DType;
import dev.llmplatform.engine.model.SafetensorsWriter;
import dev.llmplatform.engine.runtime.Generator;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Writes the next-token logits after every prefix of the prompt as a float32 tensor {@code logits} of shape
 * [prompt length, vocab] (and the prompt as int64 {@code input_ids}), computed chunk by chunk while the file is
 * written so that long prompts with large vocabularies never sit in memory whole.
 */
@Command(name = "logits", mixinStandardHelpOptions = true, description = "Write the logits of every prompt position to a safetensors file.")
final class LogitsCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Mixin
    ParallelOptions parallelOptions;

    @Option(names = "--prompt-ids", required = true, paramLabel = "IDS", description = "Prompt token ids, comma-separated.")
    String promptIds;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "Output .safetensors file.")
    Path out;

    @Override
    public Integer call() throws Exception {
        int[] ids = TokenIds.parse(promptIds);
        try (Engine engine = Engine.load(modelOptions.model, modelOptions.threads, parallelOptions.tensorParallelSize)) {
            ModelRunner model = engine.runner();
            if (ids.length > model.contextLength()) {
                throw new IllegalArgumentException("the prompt has " + ids.length + " tokens, but the context of "
                        + model.name() + " is " + model.contextLength() + " tokens");
            }
            int vocab = model.vocabSize();
            KvCache cache = model.newCache(model.newKvPool(16, (ids.length + 15) / 16));
            Batch batch = new Batch(Generator.PREFILL_CHUNK);
            int chunk = Generator.PREFILL_CHUNK;
            float[] logits = new float[Math.min(ids.length, chunk) * vocab];
            // Validate every id before the file is created, so a bad id leaves no half-written file.
            for (int id : ids) {
                if (id < 0 || id >= vocab) {
                    throw new IllegalArgumentException("token id " + id + " is outside the vocabulary (ids 0.." + (vocab - 1) + ")");
                }
            }
            new SafetensorsWriter()
                    .add("logits", DType.F32, new long[] {ids.length, vocab}, os -> {
                        ByteBuffer buf = ByteBuffer.allocate(vocab * 4).order(ByteOrder.LITTLE_ENDIAN);
                        for (int from = 0; from < ids.length; from += chunk) {
                            int to = Math.min(ids.length, from + chunk);
                            model.forward(batch.clear().addSequence(ids, from, to, from, cache, true), logits);
                            for (int r = 0; r < to - from; r++) {
                                buf.clear();
                                buf.asFloatBuffer().put(logits, r * vocab, vocab);
                                os.write(buf.array(), 0, vocab * 4);
                            }
                        }
                    })
                    .add("input_ids", DType.I64, new long[] {ids.length}, os -> {
                        ByteBuffer buf = ByteBuffer.allocate(ids.length * 8).order(ByteOrder.LITTLE_ENDIAN);
                        for (int id : ids) {
                            buf.putLong(id);
                        }
                        os.write(buf.array());
                    })
                    .write(out);
            System.err.printf("wrote logits [%d, %d] to %s%n", ids.length, vocab, out);
        }
        return 0;
    }
}
