package dev.llmplatform.engine.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * GPT-2's {@code bytes_to_unicode} table: every byte gets a printable code point, so byte-level BPE
 * vocabularies can be stored as ordinary strings. Printable Latin-1 bytes map to themselves; the other
 * 68 bytes map to U+0100.. in byte order (space becomes 'Ġ', newline 'Ċ').
 */
final class ByteLevelAlphabet {

    private static final char[] BYTE_TO_CHAR = new char[256];
    /** Indexed by char; -1 where the char is not in the alphabet. All alphabet chars are below U+0200. */
    private static final int[] CHAR_TO_BYTE = new int[0x200];

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + n++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private ByteLevelAlphabet() {
    }

    /** Maps the UTF-8 bytes of {@code text} to alphabet chars, one char per byte. */
    static String encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        char[] out = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            out[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
        }
        return new String(out);
    }

    static char charOf(int b) {
        return BYTE_TO_CHAR[b & 0xFF];
    }

    /** The byte behind an alphabet char, or -1 if {@code c} is not in the alphabet. */
    static int byteOf(char c) {
        return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    }
}
