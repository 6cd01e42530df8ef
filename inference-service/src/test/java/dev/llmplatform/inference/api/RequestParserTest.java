package dev.llmplatform.inference.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.llmplatform.engine.tokenizer.ChatMessage;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RequestParserTest {
    private final RequestParser parser = new RequestParser(16);

    private CompletionRequest chat(String json) {
        return parser.chat(RequestParser.parseJson(json.getBytes(StandardCharsets.UTF_8)));
    }

    private CompletionRequest completion(String json) {
        return parser.completion(RequestParser.parseJson(json.getBytes(StandardCharsets.UTF_8)));
    }

    private static ApiException fails(Runnable r) {
        return assertThrows(ApiException.class, r::run);
    }

    @Test
    void appliesOpenAisDefaults() {
        CompletionRequest r = chat("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertEquals(1.0, r.sampling().temperature());
        assertEquals(1.0, r.sampling().topP());
        assertEquals(1, r.n());
        assertEquals(-1, r.topLogprobs());
        assertEquals(null, r.maxTokens());
        assertThat(r.stream()).isFalse();
        assertThat(r.stop()).isEmpty();
    }

    @Test
    void readsEveryParameter() {
        CompletionRequest r = chat("""
                {"model":"m","messages":[{"role":"developer","content":"be brief"},
                  {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
                  {"role":"assistant","content":null},{"role":"user","content":"c","name":"bob"}],
                 "max_tokens":5,"max_completion_tokens":7,"temperature":0.5,"top_p":0.9,"n":2,"stop":"\\n",
                 "presence_penalty":0.1,"frequency_penalty":0.2,"seed":9,"logprobs":true,"top_logprobs":3,
                 "logit_bias":{"12":-100,"7":2.5},"user":"u","top_k":40,"min_p":0.05,"repetition_penalty":1.1,
                 "stream":true,"stream_options":{"include_usage":true},"ignore_eos":true}""");
        var prompt = (CompletionRequest.ChatPrompt) r.prompts().getFirst();
        assertEquals(List.of(new ChatMessage("system", "be brief"), new ChatMessage("user", "a\nb"),
                new ChatMessage("assistant", ""), new ChatMessage("user", "c")), prompt.messages());
        assertEquals(7, r.maxTokens(), "max_completion_tokens wins over the deprecated max_tokens");
        assertEquals(0.5, r.sampling().temperature());
        assertEquals(0.9, r.sampling().topP());
        assertEquals(40, r.sampling().topK());
        assertEquals(0.05, r.sampling().minP());
        assertEquals(1.1, r.sampling().repetitionPenalty());
        assertEquals(0.1, r.sampling().presencePenalty());
        assertEquals(0.2, r.sampling().frequencyPenalty());
        assertEquals(9L, r.sampling().seed());
        assertEquals(Map.of(12, -100f, 7, 2.5f), r.sampling().logitBias());
        assertEquals(2, r.n());
        assertEquals(List.of("\n"), r.stop());
        assertEquals(3, r.topLogprobs());
        assertThat(r.stream()).isTrue();
        assertThat(r.includeUsage()).isTrue();
        assertThat(r.ignoreEos()).isTrue();
    }

    @Test
    void acceptsEveryPromptShape() {
        assertThat(completion("{\"model\":\"m\",\"prompt\":\"x\"}").prompts()).singleElement()
                .isInstanceOf(CompletionRequest.TextPrompt.class);
        assertThat(completion("{\"model\":\"m\",\"prompt\":[\"x\",\"y\"]}").prompts()).hasSize(2);
        var ids = (CompletionRequest.TokenPrompt) completion("{\"model\":\"m\",\"prompt\":[1,2,3]}").prompts().getFirst();
        assertThat(ids.ids()).containsExactly(1, 2, 3);
        assertThat(completion("{\"model\":\"m\",\"prompt\":[[1],[2,3]],\"logprobs\":2}").prompts()).hasSize(2);
        assertEquals(2, completion("{\"model\":\"m\",\"prompt\":\"x\",\"logprobs\":2}").topLogprobs());
    }

    @Test
    void namesTheParameterInEveryError() {
        assertEquals("model", fails(() -> chat("{\"messages\":[]}")).param());
        assertEquals("messages", fails(() -> chat("{\"model\":\"m\",\"messages\":\"hi\"}")).param());
        assertEquals("messages[0].content", fails(() -> chat("{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}")).param());
        assertEquals("messages[0].content[0].type", fails(() -> chat(
                "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}")).param());
        assertEquals("temperature", fails(() -> completion("{\"model\":\"m\",\"prompt\":\"x\",\"temperature\":101}")).param());
        assertEquals("top_k", fails(() -> completion("{\"model\":\"m\",\"prompt\":\"x\",\"top_k\":-2}")).param());
        assertEquals("min_p", fails(() -> completion("{\"model\":\"m\",\"prompt\":\"x\",\"min_p\":2}")).param());
        assertEquals("repetition_penalty", fails(() -> completion("{\"model\":\"m\",\"prompt\":\"x\",\"repetition_penalty\":0}")).param());
        assertEquals("frequency_penalty", fails(() -> completion("{\"model\":\"m\",\"prompt\":\"x\",\"frequency_penalty\":-3}")).param());
        assertEquals("seed", fails(() -> completion("{\"model\":\"m\",\"prompt\":\"x\",\"seed\":1.5}")).param());
        assertEquals("logprobs", fails(() -> completion("{\"model\":\"m\",\"prompt\":\"x\",\"logprobs\":21}")).param());
        assertEquals("logit_bias", fails(() -> completion("{\"model\":\"m\",\"prompt\":\"x\",\"logit_bias\":{\"a\":1}}")).param());
        assertEquals("stop", fails(() -> completion("{\"model\":\"m\",\"prompt\":\"x\",\"stop\":\"\"}")).param());
        assertEquals("prompt[1]", fails(() -> completion("{\"model\":\"m\",\"prompt\":[\"x\",5]}")).param());
        assertEquals("prompt", fails(() -> completion("{\"model\":\"m\",\"prompt\":[]}")).param());
        assertEquals("echo", fails(() -> completion("{\"model\":\"m\",\"prompt\":\"x\",\"echo\":true}")).param());
        assertEquals("stream_options.include_usage", fails(() -> completion(
                "{\"model\":\"m\",\"prompt\":\"x\",\"stream\":true,\"stream_options\":{\"include_usage\":1}}")).param());
        assertEquals("n", fails(() -> completion("{\"model\":\"m\",\"prompt\":[\"a\",\"b\",\"c\"],\"n\":6}")).param());
        assertEquals("response_format", fails(() -> chat(
                "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"json_object\"}}")).param());
    }

    @Test
    void invalidJsonIsReportedWithoutQuotingIt() {
        ApiException e = fails(() -> RequestParser.parseJson("{\"prompt\": \"secret\" x}".getBytes(StandardCharsets.UTF_8)));
        assertEquals("invalid_json", e.code());
        assertThat(e.getMessage()).doesNotContain("secret").contains("line 1");
    }
}
