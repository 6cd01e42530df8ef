package dev.llmplatform.engine.tokenizer;

import java.util.regex.Pattern;

/** Character predicates with the exact meaning Rust's {@code char} methods and {@code regex} crate give them. */
final class CharClasses {

    /** Rust regex {@code \w} (Unicode): Java's UNICODE_CHARACTER_CLASS {@code \w} has the same definition. */
    private static final Pattern WORD_CHAR = Pattern.compile("\\w", Pattern.UNICODE_CHARACTER_CLASS);

    private CharClasses() {
    }

    /** Rust {@code char::is_whitespace}: the Unicode White_Space property (not Java's isWhitespace). */
    static boolean isWhitespace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680
                || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F
                || cp == 0x205F || cp == 0x3000;
    }

    /** Rust {@code char::is_numeric}: general categories Nd, Nl and No. */
    static boolean isNumeric(int cp) {
        int t = Character.getType(cp);
        return t == Character.DECIMAL_DIGIT_NUMBER || t == Character.LETTER_NUMBER || t == Character.OTHER_NUMBER;
    }

    /** The tokenizers crate's {@code is_punc}: ASCII punctuation or any Unicode P* category. */
    static boolean isPunctuation(int cp) {
        if (cp < 0x80) {
            return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60)
                    || (cp >= 0x7B && cp <= 0x7E);
        }
        return switch (Character.getType(cp)) {
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                    Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION,
                    Character.FINAL_QUOTE_PUNCTUATION, Character.OTHER_PUNCTUATION -> true;
            default -> false;
        };
    }

    static boolean isWordChar(int cp) {
        return WORD_CHAR.matcher(Character.toString(cp)).matches();
    }

    /** Index after the leading run of White_Space chars. */
    static int leadingWhitespaceEnd(String s) {
        int i = 0;
        while (i < s.length()) {
            int cp = s.codePointAt(i);
            if (!isWhitespace(cp)) {
                break;
            }
            i += Character.charCount(cp);
        }
        return i;
    }

    /** Index where the trailing run of White_Space chars starts. */
    static int trailingWhitespaceStart(String s) {
        int i = s.length();
        while (i > 0) {
            int cp = s.codePointBefore(i);
            if (!isWhitespace(cp)) {
                break;
            }
            i -= Character.charCount(cp);
        }
        return i;
    }
}
