/**
 * Hugging Face tokenizers, written from scratch to give the same ids as the Rust {@code tokenizers} crate,
 * plus chat templates rendered with Jinjava.
 *
 * <p>{@link dev.llmplatform.engine.tokenizer.Tokenizer} reads {@code tokenizer.json} (and
 * {@code tokenizer_config.json}) and runs the crate's pipeline:
 * <ol>
 *   <li>{@code AddedVocabulary} cuts added/special tokens out of the text (leftmost-longest, with their
 *       lstrip/rstrip/single_word/normalized flags);</li>
 *   <li>a {@code Normalizer} rewrites the rest (NFC, Lowercase, Prepend, Replace, ...);</li>
 *   <li>a {@code PreTokenizer} splits it into words (ByteLevel, Split with Oniguruma regexes translated by
 *       {@code OnigRegex}, Metaspace, Digits, ...);</li>
 *   <li>{@code BpeModel} turns each word into ids (merges by rank, byte fallback, unk);</li>
 *   <li>a {@code PostProcessor} adds special tokens (TemplateProcessing, Bert/Roberta).</li>
 * </ol>
 * Decoding maps ids back to token strings and runs the {@code Decoder} chain (ByteLevel, ByteFallback,
 * Metaspace, Replace, Fuse, Strip). {@link dev.llmplatform.engine.tokenizer.StreamingDetokenizer} decodes
 * generated ids incrementally without splitting characters. {@link dev.llmplatform.engine.tokenizer.ChatTemplate}
 * renders a conversation into a prompt the way transformers' {@code apply_chat_template} does.
 */
package dev.llmplatform.engine.tokenizer;
