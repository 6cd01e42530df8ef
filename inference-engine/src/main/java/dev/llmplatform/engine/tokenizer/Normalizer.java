package dev.llmplatform.engine.tokenizer;

import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/** tokenizer.json "normalizer": rewrites text before pre-tokenization (and before normalized added tokens are matched). */
sealed interface Normalizer {

    String normalize(String text);

    /** NFC, NFD, NFKC or NFKD. */
    record Unicode(java.text.Normalizer.Form form) implements Normalizer {
        @Override
        public String normalize(String text) {
            return java.text.Normalizer.normalize(text, form);
        }
    }

    /** Char-by-char lowercasing like Rust's {@code char::to_lowercase} (no final-sigma context, İ gives i̇). */
    record Lowercase() implements Normalizer {
        @Override
        public String normalize(String text) {
            StringBuilder sb = new StringBuilder(text.length());
            text.codePoints().forEach(cp -> {
                if (cp < 0x80) {
                    sb.append((char) (cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
                } else {
                    sb.append(Character.toString(cp).toLowerCase(Locale.ROOT));
                }
            });
            return sb.toString();
        }
    }

    /** Removes White_Space from the left and/or right end. */
    record Strip(boolean left, boolean right) implements Normalizer {
        @Override
        public String normalize(String text) {
            int end = right ? CharClasses.trailingWhitespaceStart(text) : text.length();
            int start = left ? Math.min(end, CharClasses.leadingWhitespaceEnd(text)) : 0;
            return text.substring(start, end);
        }
    }

    /** Prepends a string to non-empty text (Llama 2 style "▁"). */
    record Prepend(String prefix) implements Normalizer {
        @Override
        public String normalize(String text) {
            return text.isEmpty() ? text : prefix + text;
        }
    }

    /**
     * Replaces every match of a pattern with a literal string. {@code literal} is set when the file gave a
     * plain string (the common "▁" case), which then skips the regex engine.
     */
    record Replace(Pattern pattern, String literal, String content) implements Normalizer {
        @Override
        public String normalize(String text) {
            return replaceAll(pattern, literal, content, text);
        }

        static String replaceAll(Pattern pattern, String literal, String content, String text) {
            if (literal != null && !literal.isEmpty()) {
                return text.replace(literal, content);
            }
            StringBuilder sb = new StringBuilder(text.length());
            for (Splitter.Segment s : Splitter.regexMatches(pattern, text)) {
                if (s.match()) {
                    sb.append(content);
                } else {
                    sb.append(text, s.start(), s.end());
                }
            }
            return sb.toString();
        }
    }

    /** Removes combining marks (General_Category M). */
    record StripAccents() implements Normalizer {
        @Override
        public String normalize(String text) {
            StringBuilder sb = new StringBuilder(text.length());
            text.codePoints().filter(cp -> !isMark(cp)).forEach(sb::appendCodePoint);
            return sb.toString();
        }

        private static boolean isMark(int cp) {
            int t = Character.getType(cp);
            return t == Character.NON_SPACING_MARK || t == Character.COMBINING_SPACING_MARK || t == Character.ENCLOSING_MARK;
        }
    }

    /** Maps text to the byte-level alphabet (newer byte-level tokenizers do this here instead of in the pre-tokenizer). */
    record ByteLevel() implements Normalizer {
        @Override
        public String normalize(String text) {
            return text.isEmpty() ? text : ByteLevelAlphabet.encode(text);
        }
    }

    /** The NMT normalizer: drops ASCII control chars and maps odd spaces to ' '. */
    record Nmt() implements Normalizer {
        @Override
        public String normalize(String text) {
            StringBuilder sb = new StringBuilder(text.length());
            text.codePoints().forEach(cp -> {
                if ((cp >= 0x01 && cp <= 0x08) || cp == 0x0B || (cp >= 0x0E && cp <= 0x1F) || cp == 0x7F || cp == 0x8F || cp == 0x9F) {
                    return;
                }
                boolean space = cp == 0x09 || cp == 0x0A || cp == 0x0C || cp == 0x0D || cp == 0x1680
                        || (cp >= 0x200B && cp <= 0x200F) || cp == 0x2028 || cp == 0x2029 || cp == 0x2581
                        || cp == 0xFEFF || cp == 0xFFFD;
                sb.appendCodePoint(space ? ' ' : cp);
            });
            return sb.toString();
        }
    }

    /** BERT's normalizer: control-char cleanup, spaces around CJK ideographs, accent stripping, lowercasing. */
    record Bert(boolean cleanText, boolean handleChineseChars, boolean stripAccents, boolean lowercase) implements Normalizer {
        @Override
        public String normalize(String text) {
            StringBuilder sb = new StringBuilder(text.length());
            text.codePoints().forEach(cp -> {
                if (cleanText) {
                    if (cp == 0 || cp == 0xFFFD || isOther(cp)) {
                        return;
                    }
                    if (cp == '\t' || cp == '\n' || cp == '\r' || CharClasses.isWhitespace(cp)) {
                        cp = ' ';
                    }
                }
                if (handleChineseChars && isChinese(cp)) {
                    sb.append(' ').appendCodePoint(cp).append(' ');
                } else {
                    sb.appendCodePoint(cp);
                }
            });
            String s = sb.toString();
            if (stripAccents) {
                StringBuilder out = new StringBuilder(s.length());
                java.text.Normalizer.normalize(s, java.text.Normalizer.Form.NFD).codePoints()
                        .filter(cp -> Character.getType(cp) != Character.NON_SPACING_MARK)
                        .forEach(out::appendCodePoint);
                s = out.toString();
            }
            return lowercase ? new Lowercase().normalize(s) : s;
        }

        private static boolean isOther(int cp) {
            if (cp == '\t' || cp == '\n' || cp == '\r') {
                return false;
            }
            int t = Character.getType(cp);
            return t == Character.CONTROL || t == Character.FORMAT || t == Character.UNASSIGNED
                    || t == Character.PRIVATE_USE || t == Character.SURROGATE;
        }

        private static boolean isChinese(int cp) {
            return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                    || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F)
                    || (cp >= 0x2B920 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF)
                    || (cp >= 0x2F800 && cp <= 0x2FA1F);
        }
    }

    /** Applies several normalizers in order. */
    record Sequence(List<Normalizer> steps) implements Normalizer {
        @Override
        public String normalize(String text) {
            for (Normalizer n : steps) {
                text = n.normalize(text);
            }
            return text;
        }
    }
}
