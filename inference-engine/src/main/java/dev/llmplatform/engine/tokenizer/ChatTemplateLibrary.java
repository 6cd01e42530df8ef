package dev.llmplatform.engine.tokenizer;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.exptest.ExpTest;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.objects.date.StrftimeFormatter;
import java.lang.reflect.Method;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The globals and filters Hugging Face adds to its chat template environment, for Jinjava:
 * {@code raise_exception(msg)}, {@code strftime_now(fmt)}, Python-style {@code tojson}, plus Jinja's
 * {@code trim} (Python strip semantics) and {@code items} filters and its {@code iterable}/{@code sequence} tests.
 */
final class ChatTemplateLibrary {

    /** What {@code raise_exception} throws; ChatTemplate turns it into a TokenizerException with the message. */
    static final class RaisedException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        RaisedException(String message) {
            super(message);
        }
    }

    private ChatTemplateLibrary() {
    }

    public static Object raiseException(Object message) {
        throw new RaisedException(String.valueOf(message));
    }

    public static String strftimeNow(String format) {
        return StrftimeFormatter.format(ZonedDateTime.now(), format, Locale.ENGLISH);
    }

    static List<ELFunctionDefinition> functions() {
        return List.of(function("raise_exception", "raiseException", Object.class),
                function("strftime_now", "strftimeNow", String.class));
    }

    private static ELFunctionDefinition function(String name, String method, Class<?>... params) {
        try {
            Method m = ChatTemplateLibrary.class.getDeclaredMethod(method, params);
            m.setAccessible(true); // the class is package-private; the EL engine calls it reflectively
            return new ELFunctionDefinition("", name, m);
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
    }

    static List<ExpTest> tests() {
        return List.of(new JinjaIterableTest("iterable"), new JinjaIterableTest("sequence"));
    }

    /** Jinja's {@code iterable} and {@code sequence} tests, which hold for strings and mappings too. */
    record JinjaIterableTest(String getName) implements ExpTest {
        @Override
        public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
            return var instanceof CharSequence || var instanceof Map || var instanceof Iterable || (var != null && var.getClass().isArray());
        }
    }

    static List<Filter> filters() {
        return List.of(new TojsonFilter(), new TrimFilter(), new ItemsFilter());
    }

    /** {@code x | tojson(indent=2)} as Python's json.dumps. */
    static final class TojsonFilter implements Filter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Object indent = kwargs.containsKey("indent") ? kwargs.get("indent") : args.length > 0 ? args[0] : null;
            return PyJson.dumps(var, indent instanceof Number n ? Integer.valueOf(n.intValue()) : null);
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return PyJson.dumps(var, args.length > 0 && args[0] != null ? Integer.valueOf(args[0]) : null);
        }
    }

    /** {@code s | trim} / {@code s | trim(chars)} as Python's str.strip. */
    static final class TrimFilter implements Filter {
        @Override
        public String getName() {
            return "trim";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return PyStrings.strip(var == null ? "None" : var.toString(), args.length > 0 ? args[0] : null, true, true);
        }
    }

    /** {@code d | items}: the (key, value) pairs of a mapping. */
    static final class ItemsFilter implements Filter {
        @Override
        public String getName() {
            return "items";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            List<Object> out = new ArrayList<>();
            if (var instanceof Map<?, ?> m) {
                m.forEach((k, v) -> out.add(new ArrayList<>(java.util.Arrays.asList(k, v))));
            }
            return out;
        }
    }
}
