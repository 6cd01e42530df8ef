package dev.llmplatform.engine.tokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The added tokens of a tokenizer: assigns their ids, and cuts them out of input text before anything else
 * runs (the crate's AddedVocabulary). Tokens with {@code normalized=false} are matched on the raw input;
 * the rest are matched on each remaining piece after the normalizer has run on it. Matching is
 * leftmost-longest, as the crate's Aho-Corasick automaton does.
 */
final class AddedVocabulary {

    private final Map<String, Integer> contentToId = new HashMap<>();
    private final Map<Integer, AddedToken> idToToken = new HashMap<>();
    /** For normalized tokens whose normalized form differs: the form decode() feeds to the decoder. */
    private final Map<Integer, String> normalizedForm = new HashMap<>();
    private final Set<String> specialContents = new HashSet<>();
    private final Trie rawTrie = new Trie();
    private final Trie normalizedTrie = new Trie();

    /**
     * Registers the tokens like the crate's {@code add_tokens}: a token already in the model vocabulary keeps
     * that id, others get ids counting up from the model's vocabulary size (the ids written in the file are
     * only checked by the crate, not used).
     */
    AddedVocabulary(List<AddedToken> tokens, BpeModel model, int modelVocabSize, Normalizer normalizer) {
        int nextId = modelVocabSize;
        for (AddedToken token : tokens) {
            if (token.content().isEmpty()) {
                continue;
            }
            Integer existing = contentToId.get(token.content());
            if (existing != null && token.equals(idToToken.get(existing))) {
                continue;
            }
            Integer id = existing != null ? existing : model.tokenToId(token.content());
            if (id == null) {
                id = nextId++;
            }
            if (token.normalized() && normalizer != null) {
                String normed = normalizer.normalize(token.content());
                if (!normed.equals(token.content())) {
                    normalizedForm.put(id, normed);
                }
            }
            contentToId.put(token.content(), id);
            if (token.special()) {
                specialContents.add(token.content());
            }
            idToToken.put(id, token);
        }
        idToToken.forEach((id, token) -> {
            if (token.normalized()) {
                normalizedTrie.add(normalizedForm.getOrDefault(id, token.content()), id);
            } else {
                rawTrie.add(token.content(), id);
            }
        });
    }

    Integer tokenToId(String content) {
        return contentToId.get(content);
    }

    AddedToken token(int id) {
        return idToToken.get(id);
    }

    /** The string decode() uses for an added token id, or null if the id is not an added token. */
    String decodeForm(int id) {
        AddedToken t = idToToken.get(id);
        return t == null ? null : normalizedForm.getOrDefault(id, t.content());
    }

    boolean isSpecialContent(String content) {
        return specialContents.contains(content);
    }

    int maxId() {
        int max = -1;
        for (int id : idToToken.keySet()) {
            max = Math.max(max, id);
        }
        return max;
    }

    /** Cuts added tokens out of the input and normalizes what is left (the crate's extract_and_normalize). */
    List<Piece> extractAndNormalize(String input, Normalizer normalizer) {
        List<Piece> out = new ArrayList<>();
        for (Piece piece : findMatches(input, rawTrie, true)) {
            if (piece.isFinal()) {
                out.add(piece);
                continue;
            }
            String normalized = normalizer == null ? piece.text() : normalizer.normalize(piece.text());
            for (Piece sub : findMatches(normalized, normalizedTrie, piece.atStart())) {
                if (!sub.text().isEmpty()) {
                    out.add(sub);
                }
            }
        }
        return out;
    }

    private List<Piece> findMatches(String sentence, Trie trie, boolean atStart) {
        List<Piece> splits = new ArrayList<>();
        if (sentence.isEmpty() || trie.isEmpty()) {
            if (!sentence.isEmpty()) {
                splits.add(Piece.text(sentence, atStart));
            }
            return splits;
        }
        int startOffset = 0;
        int pos = 0;
        while (pos < sentence.length()) {
            int[] match = trie.longestAt(sentence, pos);
            if (match == null) {
                pos++;
                continue;
            }
            int id = match[0];
            int start = pos;
            int stop = match[1];
            pos = stop; // matches never overlap, even those discarded below
            AddedToken token = idToToken.get(id);
            if (token.singleWord()) {
                boolean startSpace = start == 0 || !CharClasses.isWordChar(sentence.codePointBefore(start));
                boolean stopSpace = stop == sentence.length() || !CharClasses.isWordChar(sentence.codePointAt(stop));
                if (!startSpace || !stopSpace) {
                    continue;
                }
            }
            if (token.lstrip()) {
                start = Math.max(CharClasses.trailingWhitespaceStart(sentence.substring(0, start)), startOffset);
            }
            if (token.rstrip()) {
                stop += CharClasses.leadingWhitespaceEnd(sentence.substring(stop));
            }
            if (startOffset < start) {
                splits.add(Piece.text(sentence.substring(startOffset, start), atStart && startOffset == 0));
            }
            splits.add(new Piece(sentence.substring(start, stop), new int[] {id}, false));
            startOffset = stop;
        }
        if (startOffset < sentence.length()) {
            splits.add(Piece.text(sentence.substring(startOffset), atStart && startOffset == 0));
        }
        return splits;
    }

    /** A char trie answering "longest token starting here". */
    private static final class Trie {
        private final Node root = new Node();
        private boolean empty = true;

        private static final class Node {
            final Map<Character, Node> children = new HashMap<>(4);
            int id = -1;
        }

        void add(String content, int id) {
            Node node = root;
            for (int i = 0; i < content.length(); i++) {
                node = node.children.computeIfAbsent(content.charAt(i), c -> new Node());
            }
            node.id = id;
            empty = false;
        }

        boolean isEmpty() {
            return empty;
        }

        /** {id, end} of the longest token starting at {@code pos}, or null. */
        int[] longestAt(String s, int pos) {
            Node node = root;
            int[] best = null;
            for (int i = pos; i < s.length(); i++) {
                node = node.children.get(s.charAt(i));
                if (node == null) {
                    break;
                }
                if (node.id >= 0) {
                    best = new int[] {node.id, i + 1};
                }
            }
            return best;
        }
    }
}
