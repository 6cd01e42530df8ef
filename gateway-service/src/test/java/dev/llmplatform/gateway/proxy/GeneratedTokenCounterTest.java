package dev.llmplatform.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class GeneratedTokenCounterTest {
    private static final String CHAT_STREAM = """
            data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}

            data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" In"},"logprobs":null,"finish_reason":null}]}

            data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" the"},"logprobs":null,"finish_reason":null}]}

            data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"length"}]}

            data: [DONE]

            """;

    private static long count(String text, int chunkSize) {
        GeneratedTokenCounter c = new GeneratedTokenCounter();
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        for (int start = 0; start < bytes.length; start += chunkSize) {
            for (int i = start; i < Math.min(bytes.length, start + chunkSize); i++) {
                c.accept(bytes[i]);
            }
        }
        return c.tokens();
    }

    @Test
    void countsOneTokenPerContentChunkWhereverChunksSplit() {
        for (int size : new int[] {1, 3, 7, 64, 100_000}) {
            assertThat(count(CHAT_STREAM, size)).as("chunks of %d bytes", size).isEqualTo(2);
        }
    }

    @Test
    void theUsageCountTakesPrecedence() {
        String whole = """
                {"id":"cmpl","object":"text_completion","choices":[{"text":" a b c","index":0,"finish_reason":"length"}],\
                "usage":{"prompt_tokens":8,"completion_tokens":123,"total_tokens":131}}""";
        assertThat(count(whole, 5)).isEqualTo(123);
    }
}
