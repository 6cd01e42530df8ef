package dev.llmplatform.engine.tokenizer;

import java.util.Arrays;

/**
 * Incremental decoding for streamed generation, the crate's {@code DecodeStream} algorithm (also what TGI
 * and vLLM do): decode a small window of recent ids, compare with the decoding of the window's already
 * emitted part, and emit the difference once it no longer ends in U+FFFD. Decoders whose output depends on
 * context (Metaspace and Strip dropping a leading space, byte fallback, byte-level UTF-8) thus come out
 * right, and no delta holds half a character.
 *
 * <p>The concatenation of all {@link #push} results and {@link #flush()} equals {@code decode(allIds)}.
 * Not thread-safe: one instance per generated sequence.
 */
public final class StreamingDetokenizer {

    private final Tokenizer tokenizer;
    private final boolean skipSpecialTokens;
    /** The window: ids of the last emitted chunk (as context) followed by ids not emitted yet. */
    private int[] window = new int[16];
    private int windowSize;
    /** The decoding of window[0, prefixIndex). */
    private String prefix = "";
    private int prefixIndex;
    /** All ids and all emitted text, used only to recover (see flush). */
    private int[] all = new int[64];
    private int allSize;
    private final StringBuilder emitted = new StringBuilder();

    StreamingDetokenizer(Tokenizer tokenizer, boolean skipSpecialTokens) {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
    }

    /** Adds one id; returns the text that became final with it (often "", never half a character). */
    public String push(int id) {
        if (id < 0 || id >= tokenizer.vocabSize()) {
            throw new TokenizerException("token id " + id + " is outside the vocabulary (vocab size " + tokenizer.vocabSize() + ")");
        }
        all = append(all, allSize++, id);
        if (prefix.isEmpty() && windowSize > 0) {
            String newPrefix = decodeWindow(windowSize);
            if (!endsWithReplacement(newPrefix)) {
                prefix = newPrefix;
                prefixIndex = windowSize;
            }
        }
        window = append(window, windowSize++, id);
        String text = decodeWindow(windowSize);
        if (text.length() <= prefix.length() || endsWithReplacement(text)) {
            return "";
        }
        String delta;
        if (text.startsWith(prefix)) {
            delta = text.substring(prefix.length());
        } else {
            // The crate reports an error here; no decoder of tokenizer.json should get here. Recover from the full text.
            String full = tokenizer.decode(Arrays.copyOf(all, allSize), skipSpecialTokens);
            delta = full.startsWith(emitted.toString()) ? full.substring(emitted.length()) : "";
        }
        // Keep the ids not yet used as context (from prefixIndex on) as the next window.
        int keep = windowSize - prefixIndex;
        System.arraycopy(window, prefixIndex, window, 0, keep);
        windowSize = keep;
        prefix = decodeWindow(windowSize);
        prefixIndex = windowSize;
        emitted.append(delta);
        return delta;
    }

    /** Returns whatever is still held back (an incomplete character shows as U+FFFD) and starts over. */
    public String flush() {
        String full = tokenizer.decode(Arrays.copyOf(all, allSize), skipSpecialTokens);
        String done = emitted.toString();
        String rest;
        if (full.startsWith(done)) {
            rest = full.substring(done.length());
        } else {
            String text = decodeWindow(windowSize);
            rest = text.startsWith(prefix) ? text.substring(prefix.length()) : "";
        }
        windowSize = 0;
        prefix = "";
        prefixIndex = 0;
        allSize = 0;
        emitted.setLength(0);
        return rest;
    }

    private String decodeWindow(int size) {
        return tokenizer.decode(window, 0, size, skipSpecialTokens);
    }

    private static boolean endsWithReplacement(String s) {
        return !s.isEmpty() && s.charAt(s.length() - 1) == Utf8.REPLACEMENT;
    }

    private static int[] append(int[] arr, int index, int value) {
        if (index == arr.length) {
            arr = Arrays.copyOf(arr, arr.length * 2);
        }
        arr[index] = value;
        return arr;
    }
}
