package dev.llmplatform.engine.tokenizer;

/** What to do with the delimiters when splitting a piece of text (the crate's SplitDelimiterBehavior). */
enum SplitBehavior {
    /** Drop the delimiters. */
    REMOVED,
    /** Keep each delimiter as its own piece. */
    ISOLATED,
    /** Glue each delimiter to the piece before it. */
    MERGED_WITH_PREVIOUS,
    /** Glue each delimiter to the piece after it. */
    MERGED_WITH_NEXT,
    /** Glue runs of consecutive delimiters (and runs of non-delimiters) together. */
    CONTIGUOUS;

    static SplitBehavior fromJson(String name) {
        return switch (name) {
            case "Removed" -> REMOVED;
            case "Isolated" -> ISOLATED;
            case "MergedWithPrevious" -> MERGED_WITH_PREVIOUS;
            case "MergedWithNext" -> MERGED_WITH_NEXT;
            case "Contiguous" -> CONTIGUOUS;
            default -> null;
        };
    }
}
