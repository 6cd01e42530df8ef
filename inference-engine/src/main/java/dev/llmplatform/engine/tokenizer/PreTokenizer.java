package dev.llmplatform.engine.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/** tokenizer.json "pre_tokenizer": cuts normalized text into the words that the model tokenizes one by one. */
sealed interface PreTokenizer {

    /** The GPT-2 split pattern ByteLevel uses when {@code use_regex} is on. */
    Pattern GPT2_PATTERN = OnigRegex.compile("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

    /** Rust regex {@code \w+|[^\w\s]+} (Unicode classes, which UNICODE_CHARACTER_CLASS gives Java too). */
    Pattern WHITESPACE_PATTERN = Pattern.compile("\\w+|[^\\w\\s]+", Pattern.UNICODE_CHARACTER_CLASS);

    /** Splits one piece that still needs the model; may return empty pieces (the caller drops them). */
    List<Piece> split(Piece piece);

    /** Runs this pre-tokenizer over every piece that is not an added token, dropping empty results. */
    default List<Piece> apply(List<Piece> pieces) {
        List<Piece> out = new ArrayList<>(pieces.size() * 2);
        for (Piece p : pieces) {
            if (p.isFinal()) {
                out.add(p);
                continue;
            }
            for (Piece child : split(p)) {
                if (!child.text().isEmpty()) {
                    out.add(child);
                }
            }
        }
        return out;
    }

    /** Pieces for the given ranges of {@code text}; only one starting at 0 inherits the parent's start flag. */
    private static List<Piece> children(Piece parent, String text, List<Splitter.Segment> segments, SplitBehavior behavior) {
        List<Piece> out = new ArrayList<>();
        for (int[] r : Splitter.ranges(segments, behavior)) {
            out.add(Piece.text(text.substring(r[0], r[1]), parent.atStart() && r[0] == 0));
        }
        return out;
    }

    /** GPT-2 byte-level: optional leading space, optional GPT-2 regex split, then bytes to the byte alphabet. */
    record ByteLevel(boolean addPrefixSpace, boolean useRegex) implements PreTokenizer {
        @Override
        public List<Piece> split(Piece piece) {
            String text = piece.text();
            // The crate prepends to every piece (not only the first one) that does not start with a space.
            if (addPrefixSpace && !text.startsWith(" ")) {
                text = " " + text;
            }
            List<Piece> parts = useRegex
                    ? children(piece, text, Splitter.regexMatches(GPT2_PATTERN, text), SplitBehavior.ISOLATED)
                    : List.of(Piece.text(text, piece.atStart()));
            List<Piece> out = new ArrayList<>(parts.size());
            for (Piece p : parts) {
                out.add(Piece.text(ByteLevelAlphabet.encode(p.text()), p.atStart()));
            }
            return out;
        }
    }

    /** Split on a pattern (literal or regex) with a delimiter behavior; {@code invert} splits on the non-matches. */
    record Split(Pattern pattern, SplitBehavior behavior, boolean invert) implements PreTokenizer {
        @Override
        public List<Piece> split(Piece piece) {
            List<Splitter.Segment> segments = Splitter.regexMatches(pattern, piece.text());
            return children(piece, piece.text(), invert ? Splitter.invert(segments) : segments, behavior);
        }
    }

    /** SentencePiece style: spaces become the replacement char ("▁"), which may be prepended and split on. */
    record Metaspace(int replacement, PrependScheme prependScheme, boolean splitOnReplacement) implements PreTokenizer {
        enum PrependScheme { ALWAYS, FIRST, NEVER }

        @Override
        public List<Piece> split(Piece piece) {
            String rep = Character.toString(replacement);
            String text = piece.text().replace(" ", rep);
            boolean prepend = switch (prependScheme) {
                case ALWAYS -> true;
                case FIRST -> piece.atStart(); // only at offset 0 of the original input
                case NEVER -> false;
            };
            if (prepend && !text.startsWith(rep)) {
                text = rep + text;
            }
            if (!splitOnReplacement) {
                return List.of(Piece.text(text, piece.atStart()));
            }
            return children(piece, text, Splitter.charMatches(cp -> cp == replacement, text), SplitBehavior.MERGED_WITH_NEXT);
        }
    }

    /** Keeps runs of word chars and runs of other non-space chars; drops whitespace. */
    record Whitespace() implements PreTokenizer {
        @Override
        public List<Piece> split(Piece piece) {
            List<Splitter.Segment> segments = Splitter.invert(Splitter.regexMatches(WHITESPACE_PATTERN, piece.text()));
            return children(piece, piece.text(), segments, SplitBehavior.REMOVED);
        }
    }

    /** Splits on (and drops) whitespace. */
    record WhitespaceSplit() implements PreTokenizer {
        @Override
        public List<Piece> split(Piece piece) {
            return children(piece, piece.text(), Splitter.charMatches(CharClasses::isWhitespace, piece.text()), SplitBehavior.REMOVED);
        }
    }

    /** BERT: split on whitespace, then isolate each punctuation char. */
    record Bert() implements PreTokenizer {
        @Override
        public List<Piece> split(Piece piece) {
            List<Piece> words = new WhitespaceSplit().split(piece);
            List<Piece> out = new ArrayList<>();
            for (Piece w : words) {
                out.addAll(new Punctuation(SplitBehavior.ISOLATED).split(w));
            }
            return out;
        }
    }

    /** Splits digits from the rest: each digit alone, or runs of digits together. */
    record Digits(boolean individualDigits) implements PreTokenizer {
        @Override
        public List<Piece> split(Piece piece) {
            return children(piece, piece.text(), Splitter.charMatches(CharClasses::isNumeric, piece.text()),
                    individualDigits ? SplitBehavior.ISOLATED : SplitBehavior.CONTIGUOUS);
        }
    }

    /** Splits on punctuation chars with the given behavior. */
    record Punctuation(SplitBehavior behavior) implements PreTokenizer {
        @Override
        public List<Piece> split(Piece piece) {
            return children(piece, piece.text(), Splitter.charMatches(CharClasses::isPunctuation, piece.text()), behavior);
        }
    }

    /** Splits on (and drops) one delimiter char. */
    record CharDelimiterSplit(int delimiter) implements PreTokenizer {
        @Override
        public List<Piece> split(Piece piece) {
            return children(piece, piece.text(), Splitter.charMatches(cp -> cp == delimiter, piece.text()), SplitBehavior.REMOVED);
        }
    }

    /** Cuts text into chunks of a fixed number of chars. */
    record FixedLength(int length) implements PreTokenizer {
        @Override
        public List<Piece> split(Piece piece) {
            String text = piece.text();
            List<Piece> out = new ArrayList<>();
            int start = 0;
            while (start < text.length()) {
                int end = start;
                for (int k = 0; k < length && end < text.length(); k++) {
                    end += Character.charCount(text.codePointAt(end));
                }
                out.add(Piece.text(text.substring(start, end), piece.atStart() && start == 0));
                start = end;
            }
            return out;
        }
    }

    /** Applies several pre-tokenizers in order, each to the pieces the previous one produced. */
    record Sequence(List<PreTokenizer> steps) implements PreTokenizer {
        @Override
        public List<Piece> split(Piece piece) {
            List<Piece> pieces = List.of(piece);
            for (PreTokenizer step : steps) {
                pieces = step.apply(pieces);
            }
            return pieces;
        }
    }
}
