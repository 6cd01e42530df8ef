package dev.llmplatform.engine.tokenizer;

/**
 * UTF-8 decoding with the same replacement policy as Rust's {@code String::from_utf8_lossy}: each maximal
 * invalid subpart becomes one U+FFFD (the Unicode "substitution of maximal subparts" practice). Written by
 * hand because the JDK decoder's replacement count is not specified to match.
 */
final class Utf8 {

    static final char REPLACEMENT = '\uFFFD';

    private Utf8() {
    }

    static String decodeLossy(byte[] bytes, int length) {
        return decode(bytes, length, false);
    }

    /** Strict decoding: null if the bytes are not valid UTF-8 (Rust's {@code String::from_utf8}). */
    static String decodeStrict(byte[] bytes, int length) {
        return decode(bytes, length, true);
    }

    private static String decode(byte[] bytes, int length, boolean strict) {
        StringBuilder sb = new StringBuilder(length);
        int i = 0;
        while (i < length) {
            int b0 = bytes[i] & 0xFF;
            if (b0 < 0x80) {
                sb.append((char) b0);
                i++;
                continue;
            }
            int need;
            int lo = 0x80;
            int hi = 0xBF;
            if (b0 >= 0xC2 && b0 <= 0xDF) {
                need = 1;
            } else if (b0 >= 0xE0 && b0 <= 0xEF) {
                need = 2;
                if (b0 == 0xE0) {
                    lo = 0xA0; // no overlong forms
                } else if (b0 == 0xED) {
                    hi = 0x9F; // no surrogates
                }
            } else if (b0 >= 0xF0 && b0 <= 0xF4) {
                need = 3;
                if (b0 == 0xF0) {
                    lo = 0x90;
                } else if (b0 == 0xF4) {
                    hi = 0x8F; // nothing above U+10FFFF
                }
            } else {
                if (strict) {
                    return null;
                }
                sb.append(REPLACEMENT); // stray continuation byte, C0, C1 or F5..FF
                i++;
                continue;
            }
            int cp = b0 & (0x3F >> need);
            int j = i + 1;
            boolean ok = true;
            for (int k = 0; k < need; k++, j++) {
                int b = j < length ? bytes[j] & 0xFF : -1;
                if (b < (k == 0 ? lo : 0x80) || b > (k == 0 ? hi : 0xBF)) {
                    ok = false;
                    break;
                }
                cp = (cp << 6) | (b & 0x3F);
            }
            if (ok) {
                sb.appendCodePoint(cp);
            } else if (strict) {
                return null;
            } else {
                sb.append(REPLACEMENT); // bytes i..j-1 are one maximal invalid subpart
            }
            i = j;
        }
        return sb.toString();
    }
}
