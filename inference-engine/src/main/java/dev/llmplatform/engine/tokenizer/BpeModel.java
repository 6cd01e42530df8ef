package dev.llmplatform.engine.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The BPE model of tokenizer.json: splits a pre-tokenized word into chars (with byte fallback or unk for
 * chars outside the vocabulary), then applies merges by rank. Results are cached per word.
 */
final class BpeModel {

    /** The crate caches words shorter than 256 bytes, up to 10,000 of them. */
    private static final int CACHE_CAPACITY = 10_000;
    private static final int CACHE_MAX_WORD = 256;

    private final Map<String, Integer> vocab;
    private final String[] idToToken;
    private final MergeTable merges;
    private final String unkToken;
    private final String continuingSubwordPrefix;
    private final String endOfWordSuffix;
    private final boolean fuseUnk;
    private final boolean byteFallback;
    private final boolean ignoreMerges;
    /** Ids of the {@code <0xAB>} tokens, -1 where missing. */
    private final int[] byteTokenIds = new int[256];
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    record Options(String unkToken, String continuingSubwordPrefix, String endOfWordSuffix, boolean fuseUnk,
                   boolean byteFallback, boolean ignoreMerges) {
    }

    /**
     * @param merges pairs of token strings, in rank order
     * @throws IllegalArgumentException naming the first merge whose parts or result are not in the vocabulary
     */
    BpeModel(Map<String, Integer> vocab, List<String[]> merges, Options options) {
        this.vocab = vocab;
        int maxId = -1;
        for (int id : vocab.values()) {
            maxId = Math.max(maxId, id);
        }
        idToToken = new String[maxId + 1];
        vocab.forEach((token, id) -> idToToken[id] = token);
        this.unkToken = options.unkToken();
        this.continuingSubwordPrefix = options.continuingSubwordPrefix();
        this.endOfWordSuffix = options.endOfWordSuffix();
        this.fuseUnk = options.fuseUnk();
        this.byteFallback = options.byteFallback();
        this.ignoreMerges = options.ignoreMerges();
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.format("<0x%02X>", b));
            byteTokenIds[b] = id == null ? -1 : id;
        }
        int prefixLength = continuingSubwordPrefix == null ? 0 : continuingSubwordPrefix.length();
        this.merges = new MergeTable(merges.size());
        for (int rank = 0; rank < merges.size(); rank++) {
            String a = merges.get(rank)[0];
            String b = merges.get(rank)[1];
            Integer left = vocab.get(a);
            Integer right = vocab.get(b);
            if (left == null || right == null) {
                throw new IllegalArgumentException("merge " + (rank + 1) + " (\"" + a + "\" \"" + b + "\") uses a token missing from the vocab");
            }
            // The merged token drops the right part's continuing-subword prefix.
            String merged = a + b.substring(Math.min(prefixLength, b.length()));
            Integer mergedId = vocab.get(merged);
            if (mergedId == null) {
                throw new IllegalArgumentException("merge " + (rank + 1) + " gives \"" + merged + "\", which is missing from the vocab");
            }
            this.merges.put(left, right, rank, mergedId);
        }
    }

    /** Number of vocabulary entries (where the crate starts numbering added tokens). */
    int vocabEntries() {
        return vocab.size();
    }

    /** Highest id + 1 of the model vocabulary. */
    int idLimit() {
        return idToToken.length;
    }

    Integer tokenToId(String token) {
        return vocab.get(token);
    }

    String idToToken(int id) {
        return id >= 0 && id < idToToken.length ? idToToken[id] : null;
    }

    /** Tokenizes one pre-tokenized word. */
    int[] tokenize(String word) {
        if (word.isEmpty()) {
            return new int[0];
        }
        if (ignoreMerges) {
            Integer whole = vocab.get(word);
            if (whole != null) {
                return new int[] {whole};
            }
        }
        int[] cached = cache.get(word);
        if (cached != null) {
            return cached.clone();
        }
        int[] ids = BpeWord.mergeAll(initialSymbols(word), merges);
        if (word.length() < CACHE_MAX_WORD && cache.size() < CACHE_CAPACITY) {
            cache.put(word, ids.clone());
        }
        return ids;
    }

    /** One symbol per char, as the crate's {@code merge_word} builds them before merging. */
    private int[] initialSymbols(String word) {
        int[] out = new int[word.length() + 8];
        int n = 0;
        int unkId = -1; // a pending unk, not yet emitted (so consecutive ones can fuse)
        for (int i = 0; i < word.length(); ) {
            int cp = word.codePointAt(i);
            int end = i + Character.charCount(cp);
            String s = word.substring(i, end);
            if (i > 0 && continuingSubwordPrefix != null) {
                s = continuingSubwordPrefix + s;
            }
            if (end == word.length() && endOfWordSuffix != null) {
                s = s + endOfWordSuffix;
            }
            i = end;
            Integer id = vocab.get(s);
            if (id != null) {
                if (unkId >= 0) {
                    out = append(out, n++, unkId);
                    unkId = -1;
                }
                out = append(out, n++, id);
                continue;
            }
            if (byteFallback) {
                byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
                boolean all = true;
                for (byte b : bytes) {
                    all &= byteTokenIds[b & 0xFF] >= 0;
                }
                if (all) {
                    // Like the crate, a pending unk is not flushed here; it lands after these bytes.
                    for (byte b : bytes) {
                        out = append(out, n++, byteTokenIds[b & 0xFF]);
                    }
                    continue;
                }
            }
            if (unkToken != null) {
                if (unkId >= 0 && !fuseUnk) {
                    out = append(out, n++, unkId);
                }
                Integer unk = vocab.get(unkToken);
                if (unk == null) {
                    // Like the crate, only an error once an unknown char actually needs it.
                    throw new TokenizerException("unk_token \"" + unkToken + "\" is not in the model vocabulary");
                }
                unkId = unk;
            }
            // Without an unk token the char is dropped, as the crate does.
        }
        if (unkId >= 0) {
            out = append(out, n++, unkId);
        }
        return Arrays.copyOf(out, n);
    }

    private static int[] append(int[] arr, int index, int value) {
        if (index == arr.length) {
            arr = Arrays.copyOf(arr, arr.length * 2);
        }
        arr[index] = value;
        return arr;
    }
}
