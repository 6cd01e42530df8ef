package dev.llmplatform.engine.runtime;

import java.util.List;

/**
 * Finds stop strings in streamed text, across token boundaries. Text that could still turn out to be the start of
 * a stop string is held back until the next delta decides it, so what is emitted never contains a stop string.
 */
final class StopStringMatcher {
    private final List<String> stops;
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    StopStringMatcher(List<String> stops) {
        this.stops = stops;
    }

    boolean stopped() {
        return stopped;
    }

    /** Adds a delta; returns the text now safe to emit. After a match, {@link #stopped()} is true. */
    String push(String delta) {
        if (stopped) {
            return "";
        }
        if (stops.isEmpty()) {
            return delta;
        }
        held.append(delta);
        int first = -1;
        for (String s : stops) {
            int i = held.indexOf(s);
            if (i >= 0 && (first < 0 || i < first)) {
                first = i;
            }
        }
        if (first >= 0) {
            stopped = true;
            String out = held.substring(0, first);
            held.setLength(0);
            return out;
        }
        int keep = 0;
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, held.length()); k > keep; k--) {
                if (endsWith(held, s, k)) {
                    keep = k;
                    break;
                }
            }
        }
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return out;
    }

    /** True if {@code text} ends with the first {@code k} chars of {@code s}. */
    private static boolean endsWith(StringBuilder text, String s, int k) {
        int base = text.length() - k;
        for (int i = 0; i < k; i++) {
            if (text.charAt(base + i) != s.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    /** The held-back text, at the end of a stream that did not stop on a string. */
    String flush() {
        String out = held.toString();
        held.setLength(0);
        return out;
    }
}
