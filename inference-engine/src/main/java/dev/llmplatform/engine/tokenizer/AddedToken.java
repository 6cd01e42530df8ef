package dev.llmplatform.engine.tokenizer;

/**
 * One entry of tokenizer.json "added_tokens".
 *
 * @param content    the token text
 * @param singleWord match only where it is not inside a word
 * @param lstrip     a match also swallows the whitespace before it
 * @param rstrip     a match also swallows the whitespace after it
 * @param normalized match against the normalized text (true) or the raw input (false)
 * @param special    a special token: skipped by {@code decode(ids, true)}
 */
record AddedToken(String content, boolean singleWord, boolean lstrip, boolean rstrip, boolean normalized, boolean special) {
}
