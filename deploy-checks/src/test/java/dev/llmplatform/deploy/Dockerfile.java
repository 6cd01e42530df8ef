package dev.llmplatform.deploy;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Dockerfile read into its instructions (continuation lines joined, comments and parser directives dropped), by
 * stage. Enough of the format for checking what the build would do; not a full parser (no heredocs, no escape
 * directive).
 */
record Dockerfile(String path, List<Stage> stages) {

    /** One instruction: the keyword upper-cased, its arguments as written, and its first line number. */
    record Instruction(String keyword, String arguments, int line) {

        /** The arguments as words: the JSON array form, or split on blanks outside quotes. */
        List<String> words() {
            String a = arguments.trim();
            List<String> words = new ArrayList<>();
            if (a.startsWith("[")) {
                Matcher m = Pattern.compile("\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(a);
                while (m.find()) {
                    words.add(m.group(1).replace("\\\"", "\""));
                }
                return words;
            }
            Matcher m = Pattern.compile("\"([^\"]*)\"|'([^']*)'|(\\S+)").matcher(a);
            while (m.find()) {
                words.add(m.group(1) != null ? m.group(1) : m.group(2) != null ? m.group(2) : m.group(3));
            }
            return words;
        }

        /** The words that are not --flags (COPY's sources and destination, for instance). */
        List<String> operands() {
            return words().stream().filter(w -> !w.startsWith("--")).toList();
        }

        /** The value of a --name=value flag, or null. */
        String flag(String name) {
            for (String w : words()) {
                if (w.startsWith("--" + name + "=")) {
                    return w.substring(name.length() + 3);
                }
            }
            return null;
        }
    }

    /** A build stage: its FROM line and what follows it. */
    record Stage(String name, String from, List<Instruction> instructions) {

        List<Instruction> all(String keyword) {
            return instructions.stream().filter(i -> i.keyword().equals(keyword)).toList();
        }

        Instruction last(String keyword) {
            List<Instruction> found = all(keyword);
            return found.isEmpty() ? null : found.getLast();
        }
    }

    static Dockerfile read(String relativePath) {
        List<Stage> stages = new ArrayList<>();
        List<Instruction> current = null;
        StringBuilder pending = new StringBuilder();
        int startLine = 0;
        String[] lines = Repo.read(relativePath).split("\n", -1);
        for (int n = 0; n < lines.length; n++) {
            String line = lines[n];
            String trimmed = line.strip();
            if (pending.isEmpty() && (trimmed.isEmpty() || trimmed.startsWith("#"))) {
                continue;
            }
            if (!pending.isEmpty() && trimmed.startsWith("#")) {
                continue; // comment lines inside a continued instruction are dropped by Docker too
            }
            if (pending.isEmpty()) {
                startLine = n + 1;
            }
            if (trimmed.endsWith("\\")) {
                pending.append(trimmed, 0, trimmed.length() - 1).append(' ');
                continue;
            }
            pending.append(trimmed);
            String text = pending.toString().strip();
            pending.setLength(0);
            int space = text.indexOf(' ');
            String keyword = (space < 0 ? text : text.substring(0, space)).toUpperCase(Locale.ROOT);
            String args = space < 0 ? "" : text.substring(space + 1).strip();
            Instruction instruction = new Instruction(keyword, args, startLine);
            if (keyword.equals("FROM")) {
                List<String> w = instruction.words().stream().filter(s -> !s.startsWith("--")).toList();
                String name = w.size() >= 3 && w.get(1).equalsIgnoreCase("AS") ? w.get(2) : null;
                current = new ArrayList<>();
                stages.add(new Stage(name, w.getFirst(), current));
            } else if (current != null) {
                current.add(instruction);
            }
        }
        return new Dockerfile(relativePath, List.copyOf(stages));
    }

    Stage finalStage() {
        return stages.getLast();
    }

    /** The module directory the Dockerfile sits in. */
    String module() {
        return path.substring(0, path.indexOf('/'));
    }
}
