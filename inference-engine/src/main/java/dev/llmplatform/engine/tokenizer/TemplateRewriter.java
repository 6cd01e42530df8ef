package dev.llmplatform.engine.tokenizer;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Source rewrites that let Jinjava run Jinja chat templates with Jinja's meaning:
 * <ul>
 *   <li>one trailing newline is dropped (Jinja's keep_trailing_newline=False);</li>
 *   <li>{@code x[::-1]} becomes {@code (x|reverse|list)} (Jinjava has no step slices);</li>
 *   <li>keyword argument values are parenthesised, {@code f(n=a|length - 1)} to {@code f(n=(a|length - 1))},
 *       because Jinjava binds {@code =} tighter than the operators around it;</li>
 *   <li>{@code not x is defined} becomes {@code not (x is defined)}: Jinja's {@code not} binds looser than
 *       tests, Jinjava's tighter;</li>
 *   <li>{@code {% for x in xs if cond %}} and {@code {% for %}...{% else %}...{% endfor %}}, which Jinjava
 *       ignores, become a filtered temporary list and an {@code if} on its length;</li>
 *   <li>HF's {@code {% generation %}} blocks (training masks only) render their body.</li>
 * </ul>
 */
final class TemplateRewriter {

    private static final Pattern TAG = Pattern.compile("\\{\\{.*?\\}\\}|\\{%.*?%\\}|\\{#.*?#\\}", Pattern.DOTALL);
    private static final Pattern STATEMENT = Pattern.compile("\\{%[-+]?\\s*([A-Za-z_]+)", Pattern.DOTALL);
    private static final Pattern FOR_TAG = Pattern.compile("\\{%([-+]?)\\s*for\\s+(.+?)\\s+in\\s+(.+?)\\s*([-+]?)%\\}", Pattern.DOTALL);
    private static final Pattern MARKERS = Pattern.compile("\\{%([-+]?).*?([-+]?)%\\}", Pattern.DOTALL);
    private static final Pattern REVERSE_SLICE = Pattern.compile(
            "([A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*|\\[[^\\[\\]]*\\])*)\\[\\s*:\\s*:\\s*-1\\s*\\]");
    private static final Pattern NOT_TEST = Pattern.compile(
            "\\bnot\\s+([A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*|\\[[^\\[\\]]*\\])*\\s+is\\s+(?:not\\s+)?[A-Za-z_][A-Za-z0-9_]*(?:\\([^()]*\\))?)");
    private static final Pattern GENERATION_TAG = Pattern.compile("(\\{%[-+]?\\s*)(end)?generation(\\s*[-+]?%\\})");

    private TemplateRewriter() {
    }

    static String rewrite(String template) {
        String s = template;
        if (s.endsWith("\r\n")) {
            s = s.substring(0, s.length() - 2);
        } else if (s.endsWith("\n") || s.endsWith("\r")) {
            s = s.substring(0, s.length() - 1);
        }
        s = GENERATION_TAG.matcher(s).replaceAll(r -> Matcher.quoteReplacement(
                r.group(1) + (r.group(2) == null ? "if true" : "endif") + r.group(3)));

        // Split into text and tags, rewriting expressions inside the tags.
        List<String> parts = new ArrayList<>();
        List<Boolean> isTag = new ArrayList<>();
        Matcher tags = TAG.matcher(s);
        int last = 0;
        while (tags.find()) {
            parts.add(s.substring(last, tags.start()));
            isTag.add(false);
            String tag = tags.group();
            String name = statement(tag);
            if (!tag.startsWith("{#") && !"macro".equals(name) && !"call".equals(name) && !"raw".equals(name)) {
                tag = REVERSE_SLICE.matcher(tag).replaceAll(r -> Matcher.quoteReplacement("(" + r.group(1) + "|reverse|list)"));
                tag = NOT_TEST.matcher(tag).replaceAll(r -> Matcher.quoteReplacement("not (" + r.group(1) + ")"));
                tag = wrapKeywordArguments(tag);
            }
            parts.add(tag);
            isTag.add(true);
            last = tags.end();
        }
        parts.add(s.substring(last));
        isTag.add(false);
        rewriteForLoops(parts, isTag);
        return String.join("", parts);
    }

    private static String statement(String tag) {
        Matcher m = STATEMENT.matcher(tag);
        return m.lookingAt() ? m.group(1) : null;
    }

    /** Rewrites loop filters and for-else blocks in place. */
    private static void rewriteForLoops(List<String> parts, List<Boolean> isTag) {
        Map<Integer, Integer> elseOf = new HashMap<>();
        Map<Integer, Integer> endOf = new HashMap<>();
        Deque<int[]> stack = new ArrayDeque<>(); // {part index, 1 for "for" / 0 for "if"}
        for (int i = 0; i < parts.size(); i++) {
            if (!isTag.get(i)) {
                continue;
            }
            String name = statement(parts.get(i));
            if (name == null) {
                continue;
            }
            switch (name) {
                case "for" -> stack.push(new int[] {i, 1});
                case "if" -> stack.push(new int[] {i, 0});
                case "else" -> {
                    if (!stack.isEmpty() && stack.peek()[1] == 1) {
                        elseOf.put(stack.peek()[0], i);
                    }
                }
                case "endfor", "endif" -> {
                    if (!stack.isEmpty()) {
                        int[] open = stack.pop();
                        if (open[1] == 1) {
                            endOf.put(open[0], i);
                        }
                    }
                }
                default -> {
                    // other statements do not affect for/if nesting
                }
            }
        }
        int counter = 0;
        for (int i = 0; i < parts.size(); i++) {
            if (!isTag.get(i) || !"for".equals(statement(parts.get(i)))) {
                continue;
            }
            Matcher m = FOR_TAG.matcher(parts.get(i));
            if (!m.matches()) {
                continue;
            }
            String target = m.group(2);
            String[] exprAndCondition = splitLoopFilter(m.group(3));
            boolean hasElse = elseOf.containsKey(i) && endOf.containsKey(i);
            if (exprAndCondition[1] == null && !hasElse) {
                continue;
            }
            String list = "__loop_items_" + counter++;
            String open = "{%" + m.group(1);
            String close = m.group(4) + "%}";
            StringBuilder replacement = new StringBuilder();
            if (exprAndCondition[1] != null) {
                String item = target.contains(",") ? "[" + target + "]" : target;
                replacement.append(open).append(" set ").append(list).append(" = [] %}")
                        .append("{% for ").append(target).append(" in ").append(exprAndCondition[0]).append(" %}")
                        .append("{% if ").append(exprAndCondition[1]).append(" %}{% do ").append(list).append(".append(")
                        .append(item).append(") %}{% endif %}{% endfor %}");
            } else {
                replacement.append(open).append(" set ").append(list).append(" = (").append(exprAndCondition[0]).append(")|list %}");
            }
            replacement.append("{% for ").append(target).append(" in ").append(list).append(' ').append(close);
            parts.set(i, replacement.toString());
            if (hasElse) {
                int e = elseOf.get(i);
                Matcher em = MARKERS.matcher(parts.get(e));
                Matcher fm = MARKERS.matcher(parts.get(endOf.get(i)));
                if (em.matches() && fm.matches()) {
                    parts.set(e, "{%" + em.group(1) + " endfor %}{% if (" + list + "|length) == 0 " + em.group(2) + "%}");
                    parts.set(endOf.get(i), "{%" + fm.group(1) + " endif " + fm.group(2) + "%}");
                }
            }
        }
    }

    /** Splits "xs if cond" at a top-level " if " (outside brackets and strings); {expr, cond or null}. */
    private static String[] splitLoopFilter(String expr) {
        int depth = 0;
        char quote = 0;
        for (int i = 0; i < expr.length(); i++) {
            char c = expr.charAt(i);
            if (quote != 0) {
                if (c == '\\') {
                    i++;
                } else if (c == quote) {
                    quote = 0;
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if (c == ')' || c == ']' || c == '}') {
                depth--;
            } else if (depth == 0 && expr.startsWith(" if ", i)) {
                return new String[] {expr.substring(0, i).trim(), expr.substring(i + 4).trim()};
            }
        }
        return new String[] {expr, null};
    }

    /** Wraps the value of every {@code name=value} argument inside parentheses of a call in {@code (...)}. */
    static String wrapKeywordArguments(String expr) {
        StringBuilder out = new StringBuilder(expr.length() + 8);
        // Stack of open brackets; for '(' also whether a keyword value is open at that depth.
        char[] open = new char[expr.length() + 1];
        boolean[] valueOpen = new boolean[expr.length() + 1];
        int depth = 0;
        char quote = 0;
        for (int i = 0; i < expr.length(); i++) {
            char c = expr.charAt(i);
            if (quote != 0) {
                out.append(c);
                if (c == '\\' && i + 1 < expr.length()) {
                    out.append(expr.charAt(++i));
                } else if (c == quote) {
                    quote = 0;
                }
                continue;
            }
            switch (c) {
                case '\'', '"' -> {
                    quote = c;
                    out.append(c);
                }
                case '(', '[', '{' -> {
                    open[++depth] = c;
                    valueOpen[depth] = false;
                    out.append(c);
                }
                case ')', ']', '}' -> {
                    if (depth > 0) {
                        if (valueOpen[depth]) {
                            out.append(')');
                        }
                        depth--;
                    }
                    out.append(c);
                }
                case ',' -> {
                    if (depth > 0 && valueOpen[depth]) {
                        out.append(')');
                        valueOpen[depth] = false;
                    }
                    out.append(c);
                }
                case '=' -> {
                    boolean comparison = (i + 1 < expr.length() && expr.charAt(i + 1) == '=')
                            || (i > 0 && "=!<>".indexOf(expr.charAt(i - 1)) >= 0);
                    out.append(c);
                    if (!comparison && depth > 0 && open[depth] == '(' && !valueOpen[depth] && keywordBefore(expr, i)) {
                        out.append('(');
                        valueOpen[depth] = true;
                    }
                }
                default -> out.append(c);
            }
        }
        return out.toString();
    }

    /** Whether {@code expr[..eq]} ends with {@code ( name} or {@code , name} (an argument keyword). */
    private static boolean keywordBefore(String expr, int eq) {
        int i = eq - 1;
        while (i >= 0 && Character.isWhitespace(expr.charAt(i))) {
            i--;
        }
        int end = i;
        while (i >= 0 && (Character.isLetterOrDigit(expr.charAt(i)) || expr.charAt(i) == '_')) {
            i--;
        }
        if (i == end) {
            return false;
        }
        while (i >= 0 && Character.isWhitespace(expr.charAt(i))) {
            i--;
        }
        return i >= 0 && (expr.charAt(i) == '(' || expr.charAt(i) == ',');
    }
}
