package dev.llmplatform.engine.tokenizer;

import java.util.Iterator;
import java.util.Map;

/**
 * JSON text as Python's {@code json.dumps(x, ensure_ascii=False, indent=indent)} writes it, which is what
 * Hugging Face's {@code tojson} template filter does: ", " and ": " separators (",", ": " with an indent),
 * non-ASCII kept, no HTML escaping (unlike Jinja's own tojson and Jinjava's).
 */
final class PyJson {

    private PyJson() {
    }

    static String dumps(Object value, Integer indent) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, indent, 0);
        return sb.toString();
    }

    private static void write(StringBuilder sb, Object v, Integer indent, int depth) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof Boolean b) {
            sb.append(b ? "true" : "false");
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            sb.append(Double.isNaN(d) ? "NaN" : Double.isInfinite(d) ? (d > 0 ? "Infinity" : "-Infinity") : pyFloat(d));
        } else if (v instanceof Number n) {
            sb.append(n);
        } else if (v instanceof Map<?, ?> m) {
            writeContainer(sb, m.entrySet().iterator(), m.isEmpty(), '{', '}', indent, depth, true);
        } else if (v instanceof Iterable<?> it) {
            Iterator<?> iter = it.iterator();
            writeContainer(sb, iter, !it.iterator().hasNext(), '[', ']', indent, depth, false);
        } else if (v instanceof Object[] arr) {
            writeContainer(sb, java.util.Arrays.asList(arr).iterator(), arr.length == 0, '[', ']', indent, depth, false);
        } else {
            string(sb, v.toString());
        }
    }

    private static void writeContainer(StringBuilder sb, Iterator<?> items, boolean empty, char open, char close,
                                       Integer indent, int depth, boolean map) {
        sb.append(open);
        if (empty) {
            sb.append(close);
            return;
        }
        boolean first = true;
        while (items.hasNext()) {
            Object item = items.next();
            if (!first) {
                sb.append(indent == null ? ", " : ",");
            }
            first = false;
            if (indent != null) {
                sb.append('\n').append(" ".repeat(indent * (depth + 1)));
            }
            if (map) {
                Map.Entry<?, ?> e = (Map.Entry<?, ?>) item;
                string(sb, String.valueOf(e.getKey()));
                sb.append(": ");
                write(sb, e.getValue(), indent, depth + 1);
            } else {
                write(sb, item, indent, depth + 1);
            }
        }
        if (indent != null) {
            sb.append('\n').append(" ".repeat(indent * depth));
        }
        sb.append(close);
    }

    /** Python's float repr: shortest round-trip digits, fixed notation for exponents -4..15, else "1e-05" style. */
    static String pyFloat(double d) {
        if (d == 0) {
            return (1 / d < 0) ? "-0.0" : "0.0";
        }
        java.math.BigDecimal bd = new java.math.BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
        String digits = bd.unscaledValue().toString();
        int exp10 = digits.length() - 1 - bd.scale();
        String sign = d < 0 ? "-" : "";
        if (exp10 >= -4 && exp10 < 16) {
            String plain = bd.toPlainString();
            return sign + (plain.contains(".") ? plain : plain + ".0");
        }
        String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return sign + mantissa + "e" + (exp10 < 0 ? "-" : "+") + String.format("%02d", Math.abs(exp10));
    }

    private static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
