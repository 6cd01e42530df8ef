package dev.llmplatform.engine.tokenizer;

import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Compiles the Oniguruma (Ruby syntax) regexes found in tokenizer.json into java.util.regex patterns.
 *
 * <p>Most of the syntax is shared; rewritten here is what differs: {@code \h} is a hex digit in Oniguruma
 * (horizontal space in Java), {@code \v} is only VT, {@code \w} and {@code \b} use Oniguruma's word set,
 * {@code \p{^X}} negates, POSIX brackets, {@code {,n}} intervals, {@code (?m)} means dot-all,
 * {@code (?#...)} comments and bare script names such as {@code \p{Han}}. {@code ^}/{@code $} are line
 * anchors and {@code .} excludes only LF, as in Ruby. {@code \s} and {@code \d} are Unicode in Oniguruma,
 * hence UNICODE_CHARACTER_CLASS.
 */
final class OnigRegex {

    /**
     * Oniguruma's word chars as measured against the crate: Alphabetic, marks, decimal digits and connector
     * punctuation. Outside brackets (and for word boundaries) its Latin-1 table also counts the number signs
     * ² ³ ¹ ¼ ½ ¾; inside brackets it does not.
     */
    private static final String CLASS_WORD = "\\p{Alpha}\\p{M}\\p{Nd}\\p{Pc}";
    private static final String WORD = CLASS_WORD + "\\u00B2\\u00B3\\u00B9\\u00BC-\\u00BE";
    private static final String BOUNDARY = "(?:(?<=[" + WORD + "])(?![" + WORD + "])|(?<![" + WORD + "])(?=[" + WORD + "]))";
    private static final String NON_BOUNDARY = "(?:(?<=[" + WORD + "])(?=[" + WORD + "])|(?<![" + WORD + "])(?![" + WORD + "]))";
    private static final int FLAGS = Pattern.UNICODE_CHARACTER_CLASS | Pattern.MULTILINE | Pattern.UNIX_LINES;

    private OnigRegex() {
    }

    /** Compiles an Oniguruma pattern; throws PatternSyntaxException if Java cannot express it. */
    static Pattern compile(String onig) {
        return Pattern.compile(translate(onig), FLAGS);
    }

    /** A pattern matching {@code literal} exactly (the crate's {@code regex::escape}). */
    static Pattern literal(String literal) {
        return Pattern.compile(Pattern.quote(literal), FLAGS);
    }

    static String translate(String p) {
        StringBuilder out = new StringBuilder(p.length() + 16);
        int classDepth = 0;
        int n = p.length();
        for (int i = 0; i < n; i++) {
            char c = p.charAt(i);
            if (c == '\\' && i + 1 < n) {
                char e = p.charAt(++i);
                switch (e) {
                    case 'h' -> out.append(classDepth > 0 ? "0-9a-fA-F" : "[0-9a-fA-F]");
                    case 'H' -> out.append("[^0-9a-fA-F]");
                    case 'w' -> out.append(classDepth > 0 ? CLASS_WORD : "[" + WORD + "]");
                    case 'W' -> out.append(classDepth > 0 ? "[^" + CLASS_WORD + "]" : "[^" + WORD + "]");
                    case 'v' -> out.append("\\x0B");
                    case 'b' -> out.append(classDepth > 0 ? "\\x08" : BOUNDARY);
                    case 'B' -> out.append(NON_BOUNDARY);
                    case 'p', 'P' -> {
                        if (i + 1 < n && p.charAt(i + 1) == '{') {
                            int close = p.indexOf('}', i + 2);
                            if (close < 0) {
                                throw new PatternSyntaxException("unclosed property", p, i);
                            }
                            out.append(property(e == 'P', p.substring(i + 2, close)));
                            i = close;
                        } else {
                            out.append('\\').append(e);
                        }
                    }
                    default -> out.append('\\').append(e);
                }
            } else if (c == '[') {
                if (classDepth > 0 && i + 1 < n && p.charAt(i + 1) == ':') {
                    int close = p.indexOf(":]", i + 2);
                    if (close > 0) {
                        String name = p.substring(i + 2, close);
                        boolean negate = name.startsWith("^");
                        out.append(posix(negate ? name.substring(1) : name, negate));
                        i = close + 1;
                        continue;
                    }
                }
                classDepth++;
                out.append(c);
            } else if (c == ']' && classDepth > 0) {
                classDepth--;
                out.append(c);
            } else if (classDepth == 0 && c == '{' && i + 1 < n && p.charAt(i + 1) == ',') {
                out.append("{0"); // Oniguruma's {,n} is {0,n}
            } else if (classDepth == 0 && c == '(' && p.startsWith("(?#", i)) {
                int close = p.indexOf(')', i);
                i = close < 0 ? n : close; // a comment group
            } else if (classDepth == 0 && c == '(' && i + 2 < n && p.charAt(i + 1) == '?' && isOptionLetter(p.charAt(i + 2))) {
                out.append("(?");
                i += 2;
                while (i < n && (isOptionLetter(p.charAt(i)) || p.charAt(i) == '-')) {
                    char o = p.charAt(i++);
                    out.append(o == 'm' ? 's' : o); // Ruby's m is dot-all
                }
                i--;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    private static boolean isOptionLetter(char c) {
        return c == 'i' || c == 'm' || c == 'x';
    }

    private static String property(boolean negated, String name) {
        if (name.startsWith("^")) {
            negated = !negated;
            name = name.substring(1);
        }
        String prefix = negated ? "\\P{" : "\\p{";
        for (String candidate : new String[] {name, "Is" + name, "Is" + name.replace("_", "").replace(" ", "")}) {
            try {
                Pattern.compile(prefix + candidate + "}", Pattern.UNICODE_CHARACTER_CLASS);
                return prefix + candidate + "}";
            } catch (PatternSyntaxException ignored) {
                // try the next spelling
            }
        }
        return prefix + name + "}";
    }

    private static String posix(String name, boolean negate) {
        String java = switch (name) {
            case "alpha" -> "Alpha";
            case "digit" -> "Digit";
            case "alnum" -> "Alnum";
            case "upper" -> "Upper";
            case "lower" -> "Lower";
            case "space" -> "Space";
            case "punct" -> "Punct";
            case "xdigit" -> "XDigit";
            case "cntrl" -> "Cntrl";
            case "print" -> "Print";
            case "graph" -> "Graph";
            case "blank" -> "Blank";
            case "word" -> null;
            default -> throw new PatternSyntaxException("unknown POSIX bracket [:" + name + ":]", name, 0);
        };
        if (java == null) {
            return negate ? "[^" + CLASS_WORD + "]" : CLASS_WORD;
        }
        return (negate ? "\\P{" : "\\p{") + java + "}";
    }
}
