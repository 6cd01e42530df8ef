package dev.llmplatform.inference.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llmplatform.inference.ServiceTestBase;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.logging.LogLevel;
import org.springframework.boot.logging.LoggingSystem;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.http.MediaType;

/** Logs never hold prompts or completions (llm.inference.log-content is off), even at DEBUG. */
@ExtendWith(OutputCaptureExtension.class)
class LogContentTest extends ServiceTestBase {

    @Test
    void promptsAndCompletionsStayOutOfTheLogs(CapturedOutput output) {
        // Per-request summaries are at DEBUG; every test context re-initializes logging, so set it here.
        LoggingSystem.get(getClass().getClassLoader()).setLogLevel("dev.llmplatform.inference", LogLevel.DEBUG);
        String secret = "Zebulun-confidential-prompt";
        String completion = new String(web.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"kjv-demo\",\"messages\":[{\"role\":\"user\",\"content\":\"" + secret + "\"}],"
                        + "\"max_tokens\":12,\"temperature\":0}")
                .exchange().expectStatus().isOk().expectBody(byte[].class).returnResult().getResponseBody());
        String text = ApiJson.MAPPER.readTree(completion).at("/choices/0/message/content").asString();
        web.post().uri("/v1/completions").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"kjv-demo\",\"prompt\":\"" + secret + "\",\"max_tokens\":\"many\"}")
                .exchange().expectStatus().isBadRequest();
        assertThat(output.getAll()).contains("chat_completions: prompt_tokens=").doesNotContain(secret);
        assertThat(text.strip()).hasSizeGreaterThan(5);
        assertThat(output.getAll()).doesNotContain(text.strip());
    }
}
