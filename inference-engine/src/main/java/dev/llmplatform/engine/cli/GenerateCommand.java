package dev.llmplatform.engine.cli;

import dev.llmplatform.engine.Engine;
import dev.llmplatform.engine.runtime.Generator;
import dev.llmplatform.engine.runtime.SamplingParams;
import dev.llmplatform.engine.tokenizer.ChatMessage;
import dev.llmplatform.engine.tokenizer.StreamingDetokenizer;
import dev.llmplatform.engine.tokenizer.Tokenizer;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/** Generates a continuation and streams its text (or prints one JSON object with {@code --json}). */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate text from a prompt.")
final class GenerateCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Mixin
    ParallelOptions parallelOptions;

    static final class PromptSource {
        @Option(names = "--prompt", paramLabel = "TEXT", description = "Prompt text (needs tokenizer.json).")
        String text;

        @Option(names = "--prompt-ids", paramLabel = "IDS", description = "Prompt token ids, comma-separated.")
        String ids;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    PromptSource prompt;

    @Option(names = "--max-tokens", defaultValue = "128", description = "Most tokens to generate (default ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "0 is greedy (default ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-k", defaultValue = "0", description = "Keep the k most likely tokens; 0 keeps all.")
    int topK;

    @Option(names = "--top-p", defaultValue = "1", description = "Nucleus sampling mass; 1 keeps all.")
    double topP;

    @Option(names = "--min-p", defaultValue = "0", description = "Drop tokens below min-p x the top probability.")
    double minP;

    @Option(names = "--repetition-penalty", defaultValue = "1")
    double repetitionPenalty;

    @Option(names = "--presence-penalty", defaultValue = "0")
    double presencePenalty;

    @Option(names = "--frequency-penalty", defaultValue = "0")
    double frequencyPenalty;

    @Option(names = "--seed", description = "Seed for reproducible sampling.")
    Long seed;

    @Option(names = "--chat", description = "Render the prompt as a user message with the model's chat template.")
    boolean chat;

    @Option(names = "--system", paramLabel = "TEXT", description = "System message (with --chat).")
    String system;

    @Option(names = "--add-bos", defaultValue = "auto", paramLabel = "auto|true|false",
            description = "Prepend BOS to a text prompt (default: as the checkpoint's tokenizer config says).")
    String addBos;

    @Option(names = "--ignore-eos", description = "Keep generating past end-of-sequence tokens.")
    boolean ignoreEos;

    @Option(names = "--json", description = "Print one JSON object with token_ids and text instead of streaming.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        SamplingParams params = new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, presencePenalty,
                frequencyPenalty, seed);
        try (Engine engine = Engine.load(modelOptions.model, modelOptions.threads, parallelOptions.tensorParallelSize)) {
            int[] ids = promptIds(engine);
            Tokenizer tok = engine.tokenizer().orElse(null);
            PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
            StreamingDetokenizer detok = tok == null ? null : tok.newStreamingDetokenizer(true);
            Set<Integer> stop = ignoreEos ? Set.of() : engine.stopIds();
            Generator.Result r = engine.generator().generate(ids, maxTokens, params, stop, id -> {
                if (!json) {
                    out.print(detok == null ? id + " " : detok.push(id));
                }
                return true;
            });
            if (json) {
                ObjectNode o = JsonMapper.builder().build().createObjectNode();
                var arr = o.putArray("token_ids");
                for (int id : r.outputIds()) {
                    arr.add(id);
                }
                o.put("text", tok == null ? "" : tok.decode(r.outputIds(), true));
                o.put("finish_reason", r.finishReason().apiName());
                o.put("prompt_tokens", ids.length);
                o.put("completion_tokens", r.outputIds().length);
                out.println(o);
            } else {
                if (detok != null) {
                    out.print(detok.flush());
                }
                out.println();
                System.err.printf("[%d prompt tokens, %d generated, finish: %s, prefill %.1f ms, decode %.2f tokens/s]%n",
                        ids.length, r.outputIds().length, r.finishReason().apiName(), r.prefillNanos() / 1e6,
                        r.outputIds().length > 1 ? (r.outputIds().length - 1) / (r.decodeNanos() / 1e9) : 0.0);
            }
        }
        return 0;
    }

    private int[] promptIds(Engine engine) {
        if (prompt.ids != null) {
            if (chat) {
                throw new IllegalArgumentException("--chat needs --prompt TEXT, not --prompt-ids");
            }
            return TokenIds.parse(prompt.ids);
        }
        Engine.BosPolicy bos = Engine.BosPolicy.parse(addBos);
        if (!chat) {
            return engine.encodePrompt(prompt.text, bos);
        }
        Tokenizer tok = engine.requireTokenizer();
        var template = tok.chatTemplate().orElseThrow(() -> new IllegalArgumentException(
                "--chat: " + engine.dir().resolve("tokenizer_config.json") + " has no chat_template"));
        List<ChatMessage> messages = new ArrayList<>();
        if (system != null) {
            messages.add(new ChatMessage("system", system));
        }
        messages.add(new ChatMessage("user", prompt.text));
        // The template writes BOS itself where the model wants it.
        return engine.encodePrompt(template.render(messages, true), Engine.BosPolicy.NEVER);
    }
}
