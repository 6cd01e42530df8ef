package dev.llmplatform.engine.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits text at delimiters the way the tokenizers crate does: first list the matches and the gaps between
 * them (covering the whole text), then group them according to a {@link SplitBehavior}.
 */
final class Splitter {

    /** A stretch of text, either a delimiter match or the gap between two matches. */
    record Segment(int start, int end, boolean match) {
    }

    private Splitter() {
    }

    /** Splits {@code text} and returns the non-empty pieces, in order. */
    static List<String> split(String text, List<Segment> segments, SplitBehavior behavior) {
        List<String> out = new ArrayList<>();
        for (int[] range : group(segments, behavior)) {
            if (range[1] > range[0]) {
                out.add(text.substring(range[0], range[1]));
            }
        }
        return out;
    }

    /** Start offsets that match {@link #split}'s pieces one for one. */
    static List<int[]> ranges(List<Segment> segments, SplitBehavior behavior) {
        List<int[]> out = new ArrayList<>();
        for (int[] range : group(segments, behavior)) {
            if (range[1] > range[0]) {
                out.add(range);
            }
        }
        return out;
    }

    /**
     * Regex matches as the onig crate iterates them: an empty match right where the previous match ended is
     * skipped (java.util.regex would report it).
     */
    static List<Segment> regexMatches(Pattern pattern, String text) {
        List<Segment> out = new ArrayList<>();
        int n = text.length();
        if (n == 0) {
            out.add(new Segment(0, 0, false));
            return out;
        }
        Matcher m = pattern.matcher(text);
        int prev = 0;
        int searchFrom = 0;
        int lastMatchEnd = -1;
        while (searchFrom <= n && m.find(searchFrom)) {
            int start = m.start();
            int end = m.end();
            if (start == end && end == lastMatchEnd) {
                if (searchFrom >= n) {
                    break;
                }
                searchFrom += Character.charCount(text.codePointAt(searchFrom));
                continue;
            }
            if (prev != start) {
                out.add(new Segment(prev, start, false));
            }
            out.add(new Segment(start, end, true));
            prev = end;
            searchFrom = end;
            lastMatchEnd = end;
        }
        if (prev != n) {
            out.add(new Segment(prev, n, false));
        }
        return out;
    }

    /** Every code point satisfying {@code predicate} is a one-char match. */
    static List<Segment> charMatches(IntPredicate predicate, String text) {
        List<Segment> out = new ArrayList<>();
        if (text.isEmpty()) {
            out.add(new Segment(0, 0, false));
            return out;
        }
        int last = 0;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            int next = i + Character.charCount(cp);
            if (predicate.test(cp)) {
                if (last < i) {
                    out.add(new Segment(last, i, false));
                }
                out.add(new Segment(i, next, true));
                last = next;
            }
            i = next;
        }
        if (last < text.length()) {
            out.add(new Segment(last, text.length(), false));
        }
        return out;
    }

    static List<Segment> invert(List<Segment> segments) {
        List<Segment> out = new ArrayList<>(segments.size());
        for (Segment s : segments) {
            out.add(new Segment(s.start(), s.end(), !s.match()));
        }
        return out;
    }

    /** The crate's NormalizedString::split grouping; returns [start, end) ranges that are kept. */
    private static List<int[]> group(List<Segment> segments, SplitBehavior behavior) {
        List<int[]> acc = new ArrayList<>();
        switch (behavior) {
            case ISOLATED -> segments.forEach(s -> acc.add(new int[] {s.start(), s.end()}));
            case REMOVED -> segments.stream().filter(s -> !s.match()).forEach(s -> acc.add(new int[] {s.start(), s.end()}));
            case CONTIGUOUS -> {
                boolean previousMatch = false;
                for (Segment s : segments) {
                    if (s.match() == previousMatch && !acc.isEmpty()) {
                        acc.getLast()[1] = s.end();
                    } else {
                        acc.add(new int[] {s.start(), s.end()});
                    }
                    previousMatch = s.match();
                }
            }
            case MERGED_WITH_PREVIOUS -> {
                boolean previousMatch = false;
                for (Segment s : segments) {
                    if (s.match() && !previousMatch && !acc.isEmpty()) {
                        acc.getLast()[1] = s.end();
                    } else {
                        acc.add(new int[] {s.start(), s.end()});
                    }
                    previousMatch = s.match();
                }
            }
            case MERGED_WITH_NEXT -> {
                boolean previousMatch = false; // walking backwards: the segment after this one
                for (int i = segments.size() - 1; i >= 0; i--) {
                    Segment s = segments.get(i);
                    if (s.match() && !previousMatch && !acc.isEmpty()) {
                        acc.getLast()[0] = s.start();
                    } else {
                        acc.add(new int[] {s.start(), s.end()});
                    }
                    previousMatch = s.match();
                }
                java.util.Collections.reverse(acc);
            }
        }
        return acc;
    }
}
