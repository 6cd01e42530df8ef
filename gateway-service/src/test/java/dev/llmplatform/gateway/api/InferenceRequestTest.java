package dev.llmplatform.gateway.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

class InferenceRequestTest {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private static InferenceRequest parse(String json) {
        return InferenceRequest.of(JSON.readTree(json), json.getBytes(), 16);
    }

    @Test
    void readsModelStreamUserAndThePromptsSizeAndStart() {
        InferenceRequest chat = parse("""
                {"model": "m", "stream": true, "user": "u1", "messages": [
                  {"role": "system", "content": "Thou art a scribe."},
                  {"role": "user", "content": [{"type": "text", "text": "Who made the heaven?"}]}]}""");
        assertThat(chat.model()).isEqualTo("m");
        assertThat(chat.stream()).isTrue();
        assertThat(chat.user()).isEqualTo("u1");
        assertThat(chat.leadingPrompt()).isEqualTo("Thou art a scrib");
        assertThat(chat.promptTokens()).isEqualTo(4 + 5 + 4 + 5);

        InferenceRequest ids = parse("{\"model\": \"m\", \"prompt\": [[1, 2, 3], [4]]}");
        assertThat(ids.stream()).isFalse();
        assertThat(ids.promptTokens()).isEqualTo(4);
    }

    @Test
    void refusesWhatNamesNoModel() {
        assertThatThrownBy(() -> parse("{\"prompt\": \"x\"}")).isInstanceOf(GatewayException.class)
                .extracting(e -> ((GatewayException) e).code()).isEqualTo("missing_required_parameter");
        assertThatThrownBy(() -> parse("{\"model\": 7}")).isInstanceOf(GatewayException.class)
                .extracting(e -> ((GatewayException) e).code()).isEqualTo("invalid_type");
        assertThatThrownBy(() -> parse("[1]")).isInstanceOf(GatewayException.class)
                .extracting(e -> ((GatewayException) e).code()).isEqualTo("invalid_json");
    }
}
