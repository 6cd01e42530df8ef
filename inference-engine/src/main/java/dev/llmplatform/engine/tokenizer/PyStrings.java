package dev.llmplatform.engine.tokenizer;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Python {@code str} methods that chat templates call ({@code content.strip()}, {@code .startswith(...)},
 * {@code .split(...)}, ...), with Python semantics: Java's String has none of them or different ones
 * ({@code split} takes a regex and drops trailing empties).
 */
final class PyStrings {

    static final Set<String> METHODS = Set.of("strip", "lstrip", "rstrip", "split", "rsplit", "splitlines",
            "startswith", "endswith", "upper", "lower", "title", "capitalize", "swapcase", "replace", "find",
            "rfind", "index", "rindex", "count", "join", "isdigit", "isalpha", "isalnum", "isspace", "isupper",
            "islower", "isnumeric", "isdecimal", "removeprefix", "removesuffix", "ljust", "rjust", "center", "zfill");

    private PyStrings() {
    }

    static Object call(String s, String method, Object[] args) {
        return switch (method) {
            case "strip" -> strip(s, arg(args, 0), true, true);
            case "lstrip" -> strip(s, arg(args, 0), true, false);
            case "rstrip" -> strip(s, arg(args, 0), false, true);
            case "split" -> split(s, arg(args, 0), intArg(args, 1, -1));
            case "rsplit" -> rsplit(s, arg(args, 0), intArg(args, 1, -1));
            case "splitlines" -> splitlines(s);
            case "startswith" -> anyOf(args, p -> s.startsWith(p));
            case "endswith" -> anyOf(args, p -> s.endsWith(p));
            case "upper" -> s.toUpperCase(Locale.ROOT);
            case "lower" -> s.toLowerCase(Locale.ROOT);
            case "title" -> title(s);
            case "capitalize" -> s.isEmpty() ? s : new StringBuilder().appendCodePoint(Character.toTitleCase(s.codePointAt(0)))
                    .append(s.substring(Character.charCount(s.codePointAt(0))).toLowerCase(Locale.ROOT)).toString();
            case "swapcase" -> swapcase(s);
            case "replace" -> replace(s, str(args, 0), str(args, 1), intArg(args, 2, -1));
            case "find" -> (long) s.indexOf(str(args, 0));
            case "rfind" -> (long) s.lastIndexOf(str(args, 0));
            case "index", "rindex" -> {
                int i = method.equals("index") ? s.indexOf(str(args, 0)) : s.lastIndexOf(str(args, 0));
                if (i < 0) {
                    throw new IllegalArgumentException("substring not found");
                }
                yield (long) i;
            }
            case "count" -> count(s, str(args, 0));
            case "join" -> join(s, args.length > 0 ? args[0] : null);
            case "isdigit", "isnumeric", "isdecimal" -> !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
            case "isalpha" -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
            case "isalnum" -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit);
            case "isspace" -> !s.isEmpty() && s.codePoints().allMatch(PyStrings::isSpace);
            case "isupper" -> s.codePoints().anyMatch(Character::isUpperCase) && s.codePoints().noneMatch(Character::isLowerCase);
            case "islower" -> s.codePoints().anyMatch(Character::isLowerCase) && s.codePoints().noneMatch(Character::isUpperCase);
            case "removeprefix" -> s.startsWith(str(args, 0)) ? s.substring(str(args, 0).length()) : s;
            case "removesuffix" -> s.endsWith(str(args, 0)) && !str(args, 0).isEmpty() ? s.substring(0, s.length() - str(args, 0).length()) : s;
            case "ljust" -> pad(s, intArg(args, 0, 0), fill(args), 0);
            case "rjust" -> pad(s, intArg(args, 0, 0), fill(args), 1);
            case "center" -> pad(s, intArg(args, 0, 0), fill(args), 2);
            case "zfill" -> zfill(s, intArg(args, 0, 0));
            default -> throw new IllegalArgumentException("str has no method " + method);
        };
    }

    /** Python's str.isspace set: Unicode White_Space plus the ASCII separators 0x1C-0x1F. */
    static boolean isSpace(int cp) {
        return CharClasses.isWhitespace(cp) || (cp >= 0x1C && cp <= 0x1F);
    }

    /** Python {@code str.strip(chars)}: whitespace when chars is None. */
    static String strip(String s, Object chars, boolean left, boolean right) {
        String set = chars == null ? null : chars.toString();
        int start = 0;
        int end = s.length();
        while (left && start < end && stripped(s.codePointAt(start), set)) {
            start += Character.charCount(s.codePointAt(start));
        }
        while (right && end > start && stripped(s.codePointBefore(end), set)) {
            end -= Character.charCount(s.codePointBefore(end));
        }
        return s.substring(start, end);
    }

    private static boolean stripped(int cp, String set) {
        return set == null ? isSpace(cp) : set.indexOf(Character.toString(cp)) >= 0;
    }

    private static List<String> split(String s, Object sep, int maxSplit) {
        List<String> out = new ArrayList<>();
        if (sep == null) {
            int i = 0;
            int n = s.length();
            while (true) {
                while (i < n && isSpace(s.charAt(i))) {
                    i++;
                }
                if (i >= n) {
                    break;
                }
                if (maxSplit >= 0 && out.size() == maxSplit) {
                    out.add(strip(s.substring(i), null, false, true));
                    break;
                }
                int j = i;
                while (j < n && !isSpace(s.charAt(j))) {
                    j++;
                }
                out.add(s.substring(i, j));
                i = j;
            }
            return out;
        }
        String d = sep.toString();
        if (d.isEmpty()) {
            throw new IllegalArgumentException("empty separator");
        }
        int from = 0;
        while (maxSplit < 0 || out.size() < maxSplit) {
            int at = s.indexOf(d, from);
            if (at < 0) {
                break;
            }
            out.add(s.substring(from, at));
            from = at + d.length();
        }
        out.add(s.substring(from));
        return out;
    }

    private static List<String> rsplit(String s, Object sep, int maxSplit) {
        if (maxSplit < 0 || sep == null) {
            return split(s, sep, maxSplit);
        }
        String d = sep.toString();
        List<String> out = new ArrayList<>();
        int to = s.length();
        while (out.size() < maxSplit) {
            int at = s.lastIndexOf(d, to - d.length());
            if (at < 0) {
                break;
            }
            out.addFirst(s.substring(at + d.length(), to));
            to = at;
        }
        out.addFirst(s.substring(0, to));
        return out;
    }

    private static List<String> splitlines(String s) {
        List<String> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E) || c == 0x85 || c == 0x2028 || c == 0x2029) {
                out.add(s.substring(start, i));
                if (c == '\r' && i + 1 < s.length() && s.charAt(i + 1) == '\n') {
                    i++;
                }
                start = i + 1;
            }
        }
        if (start < s.length()) {
            out.add(s.substring(start));
        }
        return out;
    }

    /** Python title(): a cased char after a cased char is lowered, any other is title-cased. */
    private static String title(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        boolean previousCased = false;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            sb.appendCodePoint(previousCased ? Character.toLowerCase(cp) : Character.toTitleCase(cp));
            previousCased = Character.isUpperCase(cp) || Character.isLowerCase(cp) || Character.isTitleCase(cp);
        }
        return sb.toString();
    }

    private static String swapcase(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        s.codePoints().forEach(cp -> sb.appendCodePoint(Character.isUpperCase(cp) ? Character.toLowerCase(cp)
                : Character.isLowerCase(cp) ? Character.toUpperCase(cp) : cp));
        return sb.toString();
    }

    private static String replace(String s, String old, String replacement, int count) {
        if (count < 0) {
            return s.replace(old, replacement);
        }
        StringBuilder sb = new StringBuilder();
        int from = 0;
        for (int done = 0; done < count; done++) {
            int at = s.indexOf(old, from);
            if (at < 0 || old.isEmpty()) {
                break;
            }
            sb.append(s, from, at).append(replacement);
            from = at + old.length();
        }
        return sb.append(s.substring(from)).toString();
    }

    private static long count(String s, String sub) {
        if (sub.isEmpty()) {
            return s.codePointCount(0, s.length()) + 1L;
        }
        long n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) {
            n++;
        }
        return n;
    }

    private static String join(String sep, Object items) {
        List<String> parts = new ArrayList<>();
        if (items instanceof Iterable<?> it) {
            it.forEach(x -> parts.add(String.valueOf(x)));
        } else if (items instanceof Object[] arr) {
            for (Object x : arr) {
                parts.add(String.valueOf(x));
            }
        } else if (items != null) {
            items.toString().codePoints().forEach(cp -> parts.add(Character.toString(cp)));
        }
        return String.join(sep, parts);
    }

    private static String pad(String s, int width, String fill, int mode) {
        int missing = width - s.codePointCount(0, s.length());
        if (missing <= 0) {
            return s;
        }
        int left = mode == 0 ? 0 : mode == 1 ? missing : missing / 2 + (missing & width & 1);
        return fill.repeat(left) + s + fill.repeat(missing - left);
    }

    private static String zfill(String s, int width) {
        int missing = width - s.length();
        if (missing <= 0) {
            return s;
        }
        boolean sign = !s.isEmpty() && (s.charAt(0) == '-' || s.charAt(0) == '+');
        return sign ? s.charAt(0) + "0".repeat(missing) + s.substring(1) : "0".repeat(missing) + s;
    }

    private static String fill(Object[] args) {
        return args.length > 1 && args[1] != null ? args[1].toString() : " ";
    }

    private static boolean anyOf(Object[] args, java.util.function.Predicate<String> test) {
        Object a = arg(args, 0);
        if (a instanceof Collection<?> c) {
            return c.stream().anyMatch(x -> test.test(String.valueOf(x)));
        }
        if (a instanceof Object[] arr) {
            for (Object x : arr) {
                if (test.test(String.valueOf(x))) {
                    return true;
                }
            }
            return false;
        }
        return test.test(String.valueOf(a));
    }

    private static Object arg(Object[] args, int i) {
        return args != null && args.length > i ? args[i] : null;
    }

    private static String str(Object[] args, int i) {
        Object a = arg(args, i);
        if (a == null) {
            throw new IllegalArgumentException("missing string argument " + (i + 1));
        }
        return a.toString();
    }

    private static int intArg(Object[] args, int i, int dflt) {
        Object a = arg(args, i);
        return a instanceof Number n ? n.intValue() : dflt;
    }
}
