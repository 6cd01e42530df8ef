package dev.llmplatform.engine.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.ext.JinjavaBeanELResolver;
import com.hubspot.jinjava.el.ext.JinjavaListELResolver;
import com.hubspot.jinjava.el.TypeConvertingMapELResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import jinjava.javax.el.ArrayELResolver;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ResourceBundleELResolver;

/**
 * A Hugging Face chat template (Jinja) rendered with Jinjava, set up like transformers' environment:
 * trim_blocks and lstrip_blocks on, keep_trailing_newline off, Python operator precedence, the globals
 * {@code raise_exception} and {@code strftime_now}, Python-style {@code tojson}, and Python string methods
 * on strings. Jinjava lacks a few Jinja constructs, which {@link TemplateRewriter} covers.
 *
 * <p>Known differences from Jinja: None prints as "" (Jinjava does not tell None from undefined), booleans
 * inside printed lists print as true/false, {@code 'x' * 3} is not supported and {@code a and b} gives a
 * boolean rather than one of its operands.
 */
public final class ChatTemplate {

    private static final Jinjava JINJAVA = createEngine();

    private final String source;
    private final String prepared;
    private final Map<String, Object> globals;

    ChatTemplate(String source, Map<String, Object> globals) {
        this.source = Objects.requireNonNull(source, "source");
        this.prepared = TemplateRewriter.rewrite(source);
        this.globals = Map.copyOf(globals);
    }

    /** A template with the given globals (e.g. {@code bos_token}, {@code eos_token}). */
    public static ChatTemplate of(String source, Map<String, ?> globals) {
        return new ChatTemplate(source, new HashMap<>(globals));
    }

    /** The template text as written in the config. */
    public String source() {
        return source;
    }

    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /**
     * Renders {@code messages}; {@code extraVariables} (e.g. {@code tools}, {@code enable_thinking}) are
     * passed to the template as well and override the defaults.
     *
     * @throws TokenizerException with the template's message if it calls {@code raise_exception}, or on errors
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, Object> extraVariables) {
        List<Map<String, Object>> maps = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", m.role());
            map.put("content", m.content());
            maps.add(map);
        }
        return renderMessages(maps, addGenerationPrompt, extraVariables);
    }

    /**
     * Renders messages given as maps, for fields beyond role and content (tool calls, names, multimodal
     * content lists); otherwise like {@link #render(List, boolean, Map)}.
     */
    public String renderMessages(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt, Map<String, Object> extraVariables) {
        Map<String, Object> context = new HashMap<>(globals);
        // So that "strftime_now is defined" holds as in HF; calls still go to the registered functions.
        context.put("strftime_now", "strftime_now");
        context.put("raise_exception", "raise_exception");
        context.put("messages", messages);
        context.put("add_generation_prompt", addGenerationPrompt);
        if (extraVariables != null) {
            context.putAll(extraVariables);
        }
        RenderResult result = JINJAVA.renderForResult(prepared, context);
        for (TemplateError error : result.getErrors()) {
            Throwable raised = raised(error.getException());
            if (raised != null) {
                throw new TokenizerException("chat template raised an exception: " + raised.getMessage());
            }
        }
        for (TemplateError error : result.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new TokenizerException("chat template failed at line " + error.getLineno() + ": " + error.getMessage());
            }
        }
        return result.getOutput();
    }

    private static Throwable raised(Throwable t) {
        for (int depth = 0; t != null && depth < 10; depth++, t = t.getCause()) {
            if (t instanceof ChatTemplateLibrary.RaisedException) {
                return t;
            }
        }
        return null;
    }

    private static Jinjava createEngine() {
        LegacyOverrides overrides = LegacyOverrides.newBuilder()
                .withEvaluateMapKeys(true)
                .withIterateOverMapKeys(true)
                .withUsePyishObjectMapper(true)
                .withUseNaturalOperatorPrecedence(true)
                .withParseWhitespaceControlStrictly(true)
                .withUseTrimmingForNotesAndExpressions(true)
                .withKeepNullableLoopValues(true)
                .build();
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PyMethodResolver());
        // Jinjava's default read-only chain, after ours.
        resolver.add(new ArrayELResolver(true));
        resolver.add(new JinjavaListELResolver(true));
        resolver.add(new TypeConvertingMapELResolver(true));
        resolver.add(new ResourceBundleELResolver());
        resolver.add(new JinjavaBeanELResolver(true));
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                // Jinjava would otherwise evaluate template syntax that appears in values (message text!).
                .withNestedInterpretationEnabled(false)
                .withLegacyOverrides(overrides)
                .withElResolver(resolver)
                .withInterperterFactory(new PyInterpreterFactory())
                .build();
        Jinjava jinjava = new Jinjava(config);
        ChatTemplateLibrary.functions().forEach(f -> jinjava.getGlobalContext().registerFunction(f));
        ChatTemplateLibrary.filters().forEach(f -> jinjava.getGlobalContext().registerFilter(f));
        ChatTemplateLibrary.tests().forEach(t -> jinjava.getGlobalContext().registerExpTest(t));
        return jinjava;
    }
}
