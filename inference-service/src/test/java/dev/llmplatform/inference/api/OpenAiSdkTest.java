package dev.llmplatform.inference.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.openai.client.OpenAIClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.completions.CompletionUsage;
import dev.llmplatform.engine.Engine;
import dev.llmplatform.engine.runtime.GenerationEvent;
import dev.llmplatform.engine.runtime.GenerationRequest;
import dev.llmplatform.engine.runtime.SamplingParams;
import dev.llmplatform.engine.runtime.StopConditions;
import dev.llmplatform.engine.tokenizer.ChatMessage;
import dev.llmplatform.inference.ServiceTestBase;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The service through the official OpenAI Java SDK: what every OpenAI client sees. */
class OpenAiSdkTest extends ServiceTestBase {
    private static final String PROMPT = "And the LORD said unto Moses,";

    /** The engine's own greedy continuation, through the same runtime. */
    private String engineGreedy(int[] prompt, int maxTokens) throws Exception {
        var handle = model().runtime().submit(GenerationRequest.of(prompt, SamplingParams.GREEDY,
                new StopConditions(maxTokens, model().stopIds(), List.of())));
        StringBuilder sb = new StringBuilder();
        for (GenerationEvent e : handle.awaitEvents(1, TimeUnit.MINUTES)) {
            sb.append(e instanceof GenerationEvent.Token t ? t.text() : ((GenerationEvent.Finished) e).text());
        }
        return sb.toString();
    }

    @Test
    void completionsReturnTheEnginesGreedyTextWithUsage() throws Exception {
        OpenAIClient client = openAi();
        Completion c = client.completions().create(CompletionCreateParams.builder()
                .model(MODEL).prompt(PROMPT).maxTokens(24).temperature(0.0).build());
        int[] ids = model().engine().encodePrompt(PROMPT, Engine.BosPolicy.AUTO);
        assertEquals(engineGreedy(ids, 24), c.choices().getFirst().text());
        assertThat(c.choices().getFirst().text()).startsWith(" Go unto the altar of the LORD");
        assertEquals("text_completion", c._object_().asString().orElseThrow());
        assertThat(c.id()).startsWith("cmpl-");
        assertEquals(MODEL, c.model());
        CompletionUsage u = c.usage().orElseThrow();
        assertEquals(ids.length, u.promptTokens());
        assertEquals(24, u.completionTokens());
        assertEquals(ids.length + 24, u.totalTokens());
        assertEquals(com.openai.models.completions.CompletionChoice.FinishReason.LENGTH, c.choices().getFirst().finishReason());
    }

    @Test
    void streamedCompletionsConcatenateToTheSameText() throws Exception {
        OpenAIClient client = openAi();
        CompletionCreateParams params = CompletionCreateParams.builder().model(MODEL).prompt(PROMPT).maxTokens(20)
                .temperature(0.0).streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        StringBuilder text = new StringBuilder();
        List<CompletionUsage> usages = new ArrayList<>();
        String finish = null;
        try (StreamResponse<Completion> stream = client.completions().createStreaming(params)) {
            for (Completion chunk : (Iterable<Completion>) stream.stream()::iterator) {
                chunk.usage().ifPresent(usages::add);
                for (var choice : chunk.choices()) {
                    text.append(choice.text());
                    if (!choice._finishReason().isNull()) {
                        finish = choice.finishReason().toString();
                    }
                }
            }
        }
        int[] ids = model().engine().encodePrompt(PROMPT, Engine.BosPolicy.AUTO);
        assertEquals(engineGreedy(ids, 20), text.toString());
        assertEquals("length", finish);
        assertEquals(1, usages.size(), "one usage chunk, at the end");
        assertEquals(20, usages.getFirst().completionTokens());
        assertEquals(ids.length, usages.getFirst().promptTokens());
    }

    @Test
    void chatCompletionsRenderTheModelsChatTemplate() throws Exception {
        OpenAIClient client = openAi();
        ChatCompletion c = client.chat().completions().create(ChatCompletionCreateParams.builder()
                .model(MODEL).addSystemMessage("Thou art a scribe.").addUserMessage("Who made the heaven and the earth?")
                .maxCompletionTokens(16).temperature(0.0).build());
        var tok = model().tokenizer();
        String rendered = model().chatTemplate().render(List.of(new ChatMessage("system", "Thou art a scribe."),
                new ChatMessage("user", "Who made the heaven and the earth?")), true);
        int[] ids = tok.encode(rendered, false);
        assertEquals(4091, ids[0], "the template writes BOS once");
        assertEquals(1, java.util.Arrays.stream(ids).filter(i -> i == 4091).count());
        assertEquals(engineGreedy(ids, 16), c.choices().getFirst().message().content().orElseThrow());
        assertEquals(ids.length, c.usage().orElseThrow().promptTokens());
        assertThat(c.id()).startsWith("chatcmpl-");
        assertEquals(ChatCompletion.Choice.FinishReason.LENGTH, c.choices().getFirst().finishReason());
    }

    @Test
    void streamedChatSendsTheRoleFirstThenContentThenUsage() throws Exception {
        OpenAIClient client = openAi();
        ChatCompletionCreateParams params = ChatCompletionCreateParams.builder().model(MODEL)
                .addUserMessage("In the beginning").maxCompletionTokens(12).temperature(0.0)
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(params)) {
            stream.stream().forEach(chunks::add);
        }
        assertEquals("assistant", chunks.getFirst().choices().getFirst().delta().role().orElseThrow().toString());
        StringBuilder text = new StringBuilder();
        for (ChatCompletionChunk ch : chunks) {
            ch.choices().forEach(choice -> choice.delta().content().ifPresent(text::append));
        }
        ChatCompletion whole = client.chat().completions().create(params.toBuilder().streamOptions(java.util.Optional.empty()).build());
        assertEquals(whole.choices().getFirst().message().content().orElseThrow(), text.toString());
        ChatCompletionChunk last = chunks.getLast();
        assertThat(last.choices()).isEmpty();
        assertEquals(12, last.usage().orElseThrow().completionTokens());
        assertEquals(ChatCompletionChunk.Choice.FinishReason.LENGTH,
                chunks.get(chunks.size() - 2).choices().getFirst().finishReason().orElseThrow());
    }

    @Test
    void stopStringsEndTheCompletionBeforeThem() {
        Completion c = openAi().completions().create(CompletionCreateParams.builder().model(MODEL).prompt(PROMPT)
                .maxTokens(40).temperature(0.0).stop("LORD").build());
        assertEquals(" Go unto the altar of the ", c.choices().getFirst().text());
        assertEquals(com.openai.models.completions.CompletionChoice.FinishReason.STOP, c.choices().getFirst().finishReason());
    }

    @Test
    void nChoicesWithASeedAreReproducible() {
        CompletionCreateParams params = CompletionCreateParams.builder().model(MODEL).prompt(PROMPT).maxTokens(12)
                .temperature(1.0).n(3).seed(42).build();
        Completion a = openAi().completions().create(params);
        Completion b = openAi().completions().create(params);
        assertEquals(3, a.choices().size());
        for (int i = 0; i < 3; i++) {
            assertEquals(i, a.choices().get(i).index());
            assertEquals(a.choices().get(i).text(), b.choices().get(i).text());
        }
        assertEquals(36, a.usage().orElseThrow().completionTokens());
        assertEquals(model().engine().encodePrompt(PROMPT, Engine.BosPolicy.AUTO).length,
                a.usage().orElseThrow().promptTokens(), "the prompt is counted once, not once per choice");
    }

    @Test
    void logitBiasSteersGreedyDecoding() {
        int go = model().tokenizer().encode(" Go", false)[0];
        int and = model().tokenizer().encode(" And", false)[0];
        Completion c = openAi().completions().create(CompletionCreateParams.builder().model(MODEL).prompt(PROMPT)
                .maxTokens(1).temperature(0.0)
                .logitBias(CompletionCreateParams.LogitBias.builder()
                        .putAdditionalProperty(Integer.toString(go), JsonValue.from(-100))
                        .putAdditionalProperty(Integer.toString(and), JsonValue.from(100)).build())
                .build());
        assertEquals(model().tokenizer().decode(new int[] {and}), c.choices().getFirst().text());
        assertThat(c.choices().getFirst().text()).isNotEqualTo(" Go");
    }

    @Test
    void vllmExtensionsAreAccepted() {
        Completion c = openAi().completions().create(CompletionCreateParams.builder().model(MODEL).prompt(PROMPT)
                .maxTokens(8).temperature(0.8).seed(7)
                .putAdditionalBodyProperty("top_k", JsonValue.from(1))
                .putAdditionalBodyProperty("min_p", JsonValue.from(0.05))
                .putAdditionalBodyProperty("repetition_penalty", JsonValue.from(1.0))
                .build());
        // top_k = 1 is greedy whatever the temperature
        assertThat(c.choices().getFirst().text()).startsWith(" Go unto the altar");
    }

    @Test
    void chatLogprobsListTheChosenTokenAndAlternatives() {
        ChatCompletion c = openAi().chat().completions().create(ChatCompletionCreateParams.builder().model(MODEL)
                .addUserMessage("Hi").maxCompletionTokens(3).temperature(0.0).logprobs(true).topLogprobs(3).build());
        var content = c.choices().getFirst().logprobs().orElseThrow().content().orElseThrow();
        assertEquals(3, content.size());
        for (var lp : content) {
            assertEquals(3, lp.topLogprobs().size());
            assertEquals(lp.topLogprobs().getFirst().token(), lp.token(), "greedy picks the most likely");
            assertThat(lp.logprob()).isLessThanOrEqualTo(0.0);
        }
    }

    @Test
    void listsTheServedModel() {
        var page = openAi().models().list();
        assertEquals(List.of(MODEL), page.data().stream().map(m -> m.id()).toList());
        assertEquals(MODEL, openAi().models().retrieve(MODEL).id());
    }

    @Test
    void badParametersAreBadRequestExceptionsNamingTheParameter() {
        OpenAIClient client = openAi();
        var e = assertThrows(BadRequestException.class, () -> client.completions().create(CompletionCreateParams.builder()
                .model(MODEL).prompt(PROMPT).maxTokens(4).topP(1.5).build()));
        assertEquals(400, e.statusCode());
        assertEquals("top_p", e.param().orElseThrow());
        assertEquals("invalid_request_error", e.type().orElseThrow());
        assertThat(e.getMessage()).contains("top_p");

        e = assertThrows(BadRequestException.class, () -> client.chat().completions().create(ChatCompletionCreateParams.builder()
                .model(MODEL).addUserMessage("x").maxCompletionTokens(4).presencePenalty(3.0).build()));
        assertEquals("presence_penalty", e.param().orElseThrow());

        e = assertThrows(BadRequestException.class, () -> client.completions().create(CompletionCreateParams.builder()
                .model(MODEL).prompt(PROMPT).maxTokens(4).putAdditionalBodyProperty("n", JsonValue.from("two")).build()));
        assertEquals("n", e.param().orElseThrow());
        assertEquals("invalid_type", e.code().orElseThrow());
    }

    @Test
    void anUnknownModelIsANotFoundException() {
        var e = assertThrows(NotFoundException.class, () -> openAi().chat().completions().create(
                ChatCompletionCreateParams.builder().model("gpt-4o").addUserMessage("x").build()));
        assertEquals(404, e.statusCode());
        assertEquals("model_not_found", e.code().orElseThrow());
        assertThat(e.getMessage()).contains("gpt-4o");
    }

    @Test
    void contextOverflowIsABadRequestWithBothCounts() {
        int context = model().description().contextLength();
        int[] ids = model().engine().encodePrompt(PROMPT, Engine.BosPolicy.AUTO);
        var e = assertThrows(BadRequestException.class, () -> openAi().completions().create(CompletionCreateParams.builder()
                .model(MODEL).prompt(PROMPT).maxTokens(context).build()));
        assertEquals("context_length_exceeded", e.code().orElseThrow());
        assertThat(e.getMessage()).contains("maximum context length is " + context)
                .contains(ids.length + " in the prompt").contains(context + " in the completion");

        String longPrompt = "And it came to pass. ".repeat(300);
        var chat = assertThrows(BadRequestException.class, () -> openAi().chat().completions().create(
                ChatCompletionCreateParams.builder().model(MODEL).addUserMessage(longPrompt).build()));
        assertEquals("messages", chat.param().orElseThrow());
        assertThat(chat.getMessage()).contains("in the messages");
        assertThat(model().runtime().stats().running()).isZero();
    }

    @Test
    void nothingIsLeftRunningAfterErrors() {
        assertThrows(BadRequestException.class, () -> openAi().completions().create(CompletionCreateParams.builder()
                .model(MODEL).prompt(PROMPT).maxTokens(4).logitBias(CompletionCreateParams.LogitBias.builder()
                        .putAdditionalProperty("999999", JsonValue.from(5)).build()).build()));
        var s = model().runtime().stats();
        assertEquals(0, s.running());
        assertEquals(0, s.waiting());
        assertThat(Map.of("used", s.kvBlocksUsed())).containsEntry("used", 0);
    }
}
