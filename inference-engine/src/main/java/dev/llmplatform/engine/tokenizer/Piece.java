package dev.llmplatform.engine.tokenizer;

/**
 * A piece of the input on its way through the pipeline. Pieces with {@code ids} are added tokens that
 * were matched already and are never split or tokenized further.
 *
 * @param text    the piece's current (normalized, pre-tokenized) text
 * @param ids     the ids of an added token, or null while the piece still needs the model
 * @param atStart whether the piece begins at offset 0 of the original input (Metaspace's "first" scheme)
 */
record Piece(String text, int[] ids, boolean atStart) {

    static Piece text(String text, boolean atStart) {
        return new Piece(text, null, atStart);
    }

    boolean isFinal() {
        return ids != null;
    }
}
