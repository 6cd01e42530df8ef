package dev.llmplatform.admin.metrics;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Reads the samples out of a Prometheus text exposition (format 0.0.4, what {@code /actuator/prometheus} answers to
 * {@code Accept: text/plain}): {@code name{label="value",...} value [timestamp]}, one per line; {@code #} lines are
 * help and type comments. Only what the dashboard shows is kept, so the names are filtered before labels are parsed.
 */
final class PrometheusText {
    private PrometheusText() {
    }

    /** One sample: a series (name and labels in the order written) and its value. */
    record Sample(String name, Map<String, String> labels, double value) {
    }

    /**
     * @param text     the exposition
     * @param wanted   which metric names to keep
     * @return the kept samples in the order they appear
     * @throws IllegalArgumentException naming the line when a kept line is not a sample
     */
    static List<Sample> parse(String text, Predicate<String> wanted) {
        List<Sample> samples = new ArrayList<>();
        int lineNumber = 0;
        for (String raw : text.split("\n")) {
            lineNumber++;
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int nameEnd = 0;
            while (nameEnd < line.length() && isNameChar(line.charAt(nameEnd))) {
                nameEnd++;
            }
            String name = line.substring(0, nameEnd);
            if (name.isEmpty()) {
                throw malformed(lineNumber, raw, "no metric name");
            }
            if (!wanted.test(name)) {
                continue;
            }
            Map<String, String> labels = new LinkedHashMap<>();
            int pos = nameEnd;
            if (pos < line.length() && line.charAt(pos) == '{') {
                pos = parseLabels(line, pos + 1, labels, lineNumber, raw);
            }
            String[] rest = line.substring(pos).strip().split("\\s+");
            if (rest.length < 1 || rest.length > 2 || rest[0].isEmpty()) {
                throw malformed(lineNumber, raw, "expected a value and an optional timestamp after the series");
            }
            samples.add(new Sample(name, labels, parseValue(rest[0], lineNumber, raw)));
        }
        return samples;
    }

    /** Parses {@code a="x",b="y"}} from just after the brace; returns the position after the closing brace. */
    private static int parseLabels(String line, int pos, Map<String, String> labels, int lineNumber, String raw) {
        while (true) {
            while (pos < line.length() && (line.charAt(pos) == ',' || line.charAt(pos) == ' ')) {
                pos++;
            }
            if (pos >= line.length()) {
                throw malformed(lineNumber, raw, "unterminated label set");
            }
            if (line.charAt(pos) == '}') {
                return pos + 1;
            }
            int eq = line.indexOf('=', pos);
            if (eq < 0 || eq + 1 >= line.length() || line.charAt(eq + 1) != '"') {
                throw malformed(lineNumber, raw, "expected label=\"value\"");
            }
            String label = line.substring(pos, eq).strip();
            StringBuilder value = new StringBuilder();
            int i = eq + 2;
            for (; i < line.length() && line.charAt(i) != '"'; i++) {
                char c = line.charAt(i);
                if (c == '\\' && i + 1 < line.length()) {
                    char next = line.charAt(++i);
                    value.append(next == 'n' ? '\n' : next);
                } else {
                    value.append(c);
                }
            }
            if (i >= line.length()) {
                throw malformed(lineNumber, raw, "unterminated value of label " + label);
            }
            labels.put(label, value.toString());
            pos = i + 1;
        }
    }

    private static double parseValue(String s, int lineNumber, String raw) {
        return switch (s) {
            case "+Inf", "Inf" -> Double.POSITIVE_INFINITY;
            case "-Inf" -> Double.NEGATIVE_INFINITY;
            case "NaN" -> Double.NaN;
            default -> {
                try {
                    yield Double.parseDouble(s);
                } catch (NumberFormatException e) {
                    throw malformed(lineNumber, raw, "value '" + s + "' is not a number");
                }
            }
        };
    }

    private static boolean isNameChar(char c) {
        return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    }

    private static IllegalArgumentException malformed(int lineNumber, String line, String why) {
        String shown = line.length() <= 200 ? line : line.substring(0, 200) + "...";
        return new IllegalArgumentException("line " + lineNumber + " of the Prometheus text: " + why + ": " + shown);
    }
}
