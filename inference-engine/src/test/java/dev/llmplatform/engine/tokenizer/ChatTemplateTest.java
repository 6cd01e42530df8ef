package dev.llmplatform.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real chat templates (written out as their tokenizer_config.json files have them) rendered with Jinjava, with
 * the output Hugging Face's Jinja environment gives (trim_blocks, lstrip_blocks, raise_exception, tojson).
 */
class ChatTemplateTest {

    static final String LLAMA3_INSTRUCT = "{% set loop_messages = messages %}{% for message in loop_messages %}"
            + "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim"
            + " + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

    static final String MISTRAL_INSTRUCT = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user')"
            + " != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
            + "{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
            + "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
            + "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

    static final String QWEN2_CHATML = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
            + "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
            + "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    /** Llama 2 chat; its "\\n" are backslash-n escapes inside Jinja string literals, as in the original JSON. */
    static final String LLAMA2_CHAT = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
            + "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
            + "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
            + "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
            + "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
            + "{% if loop.index0 == 0 and system_message != false %}"
            + "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
            + "{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}"
            + "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
            + "{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

    /** Zephyr: one statement per line, so the output depends on trim_blocks and lstrip_blocks. */
    static final String ZEPHYR = """
            {% for message in messages %}
            {% if message['role'] == 'user' %}
            {{ '<|user|>\n' + message['content'] + eos_token }}
            {% elif message['role'] == 'system' %}
            {{ '<|system|>\n' + message['content'] + eos_token }}
            {% elif message['role'] == 'assistant' %}
            {{ '<|assistant|>\n'  + message['content'] + eos_token }}
            {% endif %}
            {% if loop.last and add_generation_prompt %}
            {{ '<|assistant|>' }}
            {% endif %}
            {% endfor %}""";

    private static ChatTemplate template(String source) {
        return ChatTemplate.of(source, Map.of("bos_token", "<s>", "eos_token", "</s>"));
    }

    private static ChatMessage m(String role, String content) {
        return new ChatMessage(role, content);
    }

    @Test
    void llama3Instruct() {
        ChatTemplate t = ChatTemplate.of(LLAMA3_INSTRUCT, Map.of("bos_token", "<|begin_of_text|>", "eos_token", "<|end_of_text|>"));
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a bot.<|eot_id|>"
                        + "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
                t.render(List.of(m("system", "You are a bot."), m("user", " Hi! \n")), true));
        assertEquals("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
                t.render(List.of(m("user", "Hi")), false));
    }

    @Test
    void mistralInstruct() {
        ChatTemplate t = template(MISTRAL_INSTRUCT);
        assertEquals("<s>[INST] Hi [/INST]Hello</s>[INST] Bye [/INST]",
                t.render(List.of(m("user", "Hi"), m("assistant", "Hello"), m("user", "Bye")), true));
        TokenizerException e = assertThrows(TokenizerException.class,
                () -> t.render(List.of(m("user", "Hi"), m("user", "again")), true));
        assertTrue(e.getMessage().contains("Conversation roles must alternate user/assistant/user/assistant/..."), e.getMessage());
    }

    @Test
    void qwen2ChatMl() {
        ChatTemplate t = template(QWEN2_CHATML);
        assertEquals("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                + "<|im_start|>assistant\n", t.render(List.of(m("user", "Hi")), true));
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n",
                t.render(List.of(m("system", "Be brief."), m("user", "Hi")), false));
        // The same template with "\n" escapes inside the Jinja strings renders the same.
        assertEquals(t.render(List.of(m("user", "Hi")), true),
                template(QWEN2_CHATML.replace("\n", "\\n")).render(List.of(m("user", "Hi")), true));
    }

    @Test
    void llama2Chat() {
        ChatTemplate t = template(LLAMA2_CHAT);
        assertEquals("<s>[INST] <<SYS>>\nBe nice.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] Bye [/INST]",
                t.render(List.of(m("system", "Be nice."), m("user", "Hi "), m("assistant", " Hello! "), m("user", "Bye")), true));
    }

    @Test
    void zephyrNeedsTrimAndLstripBlocks() {
        assertEquals("<|system|>\nS</s>\n<|user|>\nU</s>\n<|assistant|>\n",
                template(ZEPHYR).render(List.of(m("system", "S"), m("user", "U")), true));
    }

    @Test
    void jinjaFeaturesJinjavaLacksOrSpellsDifferently() {
        String source = """
                {%- set ns = namespace(users=0, last=messages|length - 1) -%}
                {%- for m in messages if m.role == 'user' -%}{%- set ns.users = ns.users + 1 -%}{%- endfor -%}
                users={{ ns.users }} last={{ ns.last }}
                {% for m in messages[::-1] %}{{ m.role | upper }}{{ ',' if not loop.last }}{% endfor %}

                {{ messages[0].content.strip().split(' ')[-1].title() }}|{{ messages[1].content.startswith('<think>') }}|{{ 'a.b.c'.split('.') | length }}
                {% if not tools is defined %}no tools{% endif %}
                {{ {'name': 'f', 'args': [1, 2.5, none, true], 'text': '日本 "q"'} | tojson }}
                {% for x in [] %}never{% else %}empty loop{% endfor %}
                {{ flag }}
                """;
        List<ChatMessage> messages = List.of(m("system", "  You are   a bot  "), m("user", "<think>x</think>hi"),
                m("assistant", "ok"), m("user", "more"));
        assertEquals("users=2 last=3\nUSER,ASSISTANT,USER,SYSTEM\nBot|True|3\nno tools"
                        + "{\"name\": \"f\", \"args\": [1, 2.5, null, true], \"text\": \"日本 \\\"q\\\"\"}\nempty loopTrue",
                template(source).render(messages, true, Map.of("flag", true)));
    }

    @Test
    void messageTextIsNeverEvaluated() {
        String text = "{{ 7 * 7 }} {% if true %}x{% endif %} {# c #}";
        assertEquals("<s>[INST] " + text + " [/INST]", template(MISTRAL_INSTRUCT).render(List.of(m("user", text)), true));
    }

    @Test
    void strftimeNowAndExtraVariables() {
        String source = "{% if strftime_now is defined %}{{ strftime_now('%d %b %Y') }}{% endif %}"
                + "{% for t in tools %} {{ t | tojson }}{% endfor %}{% if enable_thinking is false %} no-think{% endif %}";
        String today = LocalDate.now().format(DateTimeFormatter.ofPattern("dd MMM yyyy", Locale.ENGLISH));
        Map<String, Object> extra = Map.of("tools", List.of(Map.of("name", "get_weather")), "enable_thinking", false);
        String out = template(source).render(List.of(), true, extra);
        assertTrue(out.equals(today + " {\"name\": \"get_weather\"} no-think")
                || out.endsWith(" {\"name\": \"get_weather\"} no-think"), out); // tolerate midnight
    }

    @Test
    void toolCallMessagesAsMaps() {
        String source = "{% for m in messages %}{% if m.tool_calls is defined %}{% for c in m.tool_calls %}"
                + "{{ c.function.name }}({{ c.function.arguments | tojson }}){% endfor %}{% else %}{{ m.content }}{% endif %};{% endfor %}";
        List<Map<String, Object>> messages = List.of(Map.of("role", "user", "content", "weather?"),
                Map.of("role", "assistant", "tool_calls", List.of(Map.of("function", Map.of("name", "get_weather",
                        "arguments", Map.of("city", "Paris"))))));
        assertEquals("weather?;get_weather({\"city\": \"Paris\"});", template(source).renderMessages(messages, true, Map.of()));
    }

    @Test
    void configChatTemplateFormsAndTokenObjects(@TempDir Path dir) throws Exception {
        String json = SentencePieceBpeTest.llama2Style().toString();
        String config = """
                {"bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false},
                 "eos_token": "</s>", "pad_token": null,
                 "chat_template": [{"name": "tool_use", "template": "tools"},
                                   {"name": "default", "template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}\\n"}]}""";
        Tokenizer t = Tokenizer.fromJson(json, config);
        assertEquals("<s>hi</s>", t.chatTemplate().orElseThrow().render(List.of(m("user", "hi")), true));
        assertEquals(1, t.specialTokens().bosId().getAsInt());
        assertEquals(2, t.specialTokens().eosId().getAsInt());
        assertTrue(t.specialTokens().padToken().isEmpty());
        assertTrue(Tokenizer.fromJson(json, null).chatTemplate().isEmpty());

        // A chat_template.jinja file beside the config wins, as in newer transformers.
        Files.writeString(dir.resolve("tokenizer.json"), json);
        Files.writeString(dir.resolve("tokenizer_config.json"), config);
        Files.writeString(dir.resolve("chat_template.jinja"), "[{{ messages | length }}]\n");
        assertEquals("[1]", Tokenizer.load(dir).chatTemplate().orElseThrow().render(List.of(m("user", "hi")), false));
    }
}
