package dev.llmplatform.inference.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.llmplatform.engine.Engine;
import dev.llmplatform.engine.runtime.GenerationEvent;
import dev.llmplatform.engine.runtime.GenerationRequest;
import dev.llmplatform.engine.runtime.SamplingParams;
import dev.llmplatform.engine.runtime.StopConditions;
import dev.llmplatform.inference.ServiceTestBase;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.http.MediaType;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.core.publisher.Flux;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/** 32 streaming requests at once: every one completes, with the right usage and the engine's own greedy text. */
class ConcurrentStreamingTest extends ServiceTestBase {
    private static final int REQUESTS = 32;
    private static final String[] OPENINGS = {"And the LORD said unto Moses,", "In the beginning", "Blessed are the",
            "And it came to pass", "The LORD is my shepherd;", "For God so loved", "Then said Jesus unto them,",
            "And he said,"};

    record Result(String text, int promptTokens, int completionTokens, String finishReason, int chunks) {
    }

    @Test
    void thirtyTwoConcurrentStreamsMatchTheEngineRunAlone() throws Exception {
        List<String> prompts = new ArrayList<>();
        for (int i = 0; i < REQUESTS; i++) {
            prompts.add(OPENINGS[i % OPENINGS.length] + " ".repeat(i / OPENINGS.length));
        }
        // The engine's own greedy results, one request at a time.
        List<Result> expected = new ArrayList<>();
        for (String p : prompts) {
            int[] ids = model().engine().encodePrompt(p, Engine.BosPolicy.AUTO);
            var h = model().runtime().submit(GenerationRequest.of(ids, SamplingParams.GREEDY,
                    new StopConditions(maxTokens(p), model().stopIds(), List.of())));
            StringBuilder sb = new StringBuilder();
            GenerationEvent.Finished f = null;
            for (GenerationEvent e : h.awaitEvents(1, TimeUnit.MINUTES)) {
                if (e instanceof GenerationEvent.Token t) {
                    sb.append(t.text());
                } else {
                    f = (GenerationEvent.Finished) e;
                    sb.append(f.text());
                }
            }
            expected.add(new Result(sb.toString(), ids.length, f.completionTokens(), f.reason().apiName(), 0));
        }
        long steps = model().runtime().stats().steps();

        WebClient client = WebClient.builder().baseUrl("http://localhost:" + port).build();
        List<Result> actual = Flux.range(0, REQUESTS)
                .flatMapSequential(i -> stream(client, i, prompts.get(i)), REQUESTS)
                .collectList()
                .block(Duration.ofMinutes(2));

        for (int i = 0; i < REQUESTS; i++) {
            Result a = actual.get(i);
            Result e = expected.get(i);
            assertEquals(e.text(), a.text(), "request " + i);
            assertEquals(e.promptTokens(), a.promptTokens(), "prompt tokens of request " + i);
            assertEquals(e.completionTokens(), a.completionTokens(), "completion tokens of request " + i);
            assertEquals(e.finishReason(), a.finishReason(), "finish reason of request " + i);
            assertThat(a.chunks()).isGreaterThan(1);
        }
        var stats = model().runtime().stats();
        assertThat(stats.steps() - steps).as("requests were batched, not run one by one")
                .isLessThan(expected.stream().mapToLong(Result::completionTokens).sum() / 2);
        assertEquals(0, stats.running());
        assertEquals(0, stats.kvBlocksUsed(), "every request gave its KV blocks back");
    }

    /** A different length limit per prompt (16..32), so that requests finish at different steps. */
    private static int maxTokens(String prompt) {
        return 16 + prompt.length() % 17;
    }

    private static Flux<Result> stream(WebClient client, int i, String prompt) {
        ObjectNode body = ApiJson.MAPPER.createObjectNode()
                .put("model", MODEL).put("prompt", prompt).put("max_tokens", maxTokens(prompt))
                .put("temperature", 0).put("stream", true);
        body.putObject("stream_options").put("include_usage", true);
        return client.post().uri("/v1/completions").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(ApiJson.MAPPER.writeValueAsString(body))
                .retrieve()
                .bodyToFlux(new ParameterizedTypeReference<ServerSentEvent<String>>() { })
                .map(ServerSentEvent::data)
                .collectList()
                .map(ConcurrentStreamingTest::result)
                .flux();
    }

    private static Result result(List<String> data) {
        assertEquals("[DONE]", data.getLast());
        StringBuilder text = new StringBuilder();
        String finish = null;
        JsonNode usage = null;
        int chunks = 0;
        for (String d : data.subList(0, data.size() - 1)) {
            JsonNode c = ApiJson.MAPPER.readTree(d);
            if (!c.get("usage").isNull()) {
                usage = c.get("usage");
                continue;
            }
            chunks++;
            JsonNode choice = c.get("choices").get(0);
            text.append(choice.get("text").asString());
            if (!choice.get("finish_reason").isNull()) {
                finish = choice.get("finish_reason").asString();
            }
        }
        return new Result(text.toString(), usage.get("prompt_tokens").asInt(), usage.get("completion_tokens").asInt(),
                finish, chunks);
    }
}
