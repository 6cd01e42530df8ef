package dev.llmplatform.engine.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * tokenizer.json "decoder": turns the token strings of some ids back into text. Each step maps a list of
 * token strings to a new list (the crate's {@code decode_chain}); the final text is their concatenation.
 */
sealed interface Decoder {

    List<String> decodeChain(List<String> tokens);

    default String decode(List<String> tokens) {
        return String.join("", decodeChain(tokens));
    }

    /** Byte-level alphabet back to bytes, then lossy UTF-8. Tokens with chars outside the alphabet pass as their own UTF-8. */
    record ByteLevel() implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            for (String token : tokens) {
                byte[] mapped = new byte[token.length()];
                boolean all = true;
                for (int i = 0; i < token.length() && all; i++) {
                    int b = ByteLevelAlphabet.byteOf(token.charAt(i));
                    all = b >= 0;
                    mapped[i] = (byte) b;
                }
                byte[] raw = all ? mapped : token.getBytes(StandardCharsets.UTF_8);
                bytes.write(raw, 0, raw.length);
            }
            byte[] all = bytes.toByteArray();
            return List.of(Utf8.decodeLossy(all, all.length));
        }
    }

    /** Runs of {@code <0xAB>} tokens become the text their bytes encode, or one U+FFFD per byte if invalid. */
    record ByteFallback() implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            ByteArrayOutputStream pending = new ByteArrayOutputStream();
            for (String token : tokens) {
                int b = byteToken(token);
                if (b >= 0) {
                    pending.write(b);
                    continue;
                }
                flush(pending, out);
                out.add(token);
            }
            flush(pending, out);
            return out;
        }

        private static void flush(ByteArrayOutputStream pending, List<String> out) {
            if (pending.size() == 0) {
                return;
            }
            byte[] bytes = pending.toByteArray();
            String s = Utf8.decodeStrict(bytes, bytes.length);
            if (s != null) {
                out.add(s);
            } else {
                for (int i = 0; i < bytes.length; i++) {
                    out.add(String.valueOf(Utf8.REPLACEMENT));
                }
            }
            pending.reset();
        }

        static int byteToken(String token) {
            if (token.length() != 6 || !token.startsWith("<0x") || token.charAt(5) != '>') {
                return -1;
            }
            int hi = Character.digit(token.charAt(3), 16);
            int lo = Character.digit(token.charAt(4), 16);
            return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
        }
    }

    /** Joins all tokens into one. */
    record Fuse() implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            return List.of(String.join("", tokens));
        }
    }

    /** Removes up to {@code start} leading and {@code stop} trailing {@code content} chars from each token. */
    record Strip(int content, int start, int stop) implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (String token : tokens) {
                int[] cps = token.codePoints().toArray();
                int from = 0;
                while (from < start && from < cps.length && cps[from] == content) {
                    from++;
                }
                int to = cps.length;
                for (int i = 0; i < stop && to > from && cps[to - 1] == content; i++) {
                    to--;
                }
                out.add(new String(cps, from, to - from));
            }
            return out;
        }
    }

    /** Replaces a pattern (literal or regex) in each token. */
    record Replace(Pattern pattern, String literal, String content) implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (String token : tokens) {
                out.add(Normalizer.Replace.replaceAll(pattern, literal, content, token));
            }
            return out;
        }
    }

    /**
     * Replacement char back to space. Like the crate, when a prefix was prepended at encoding time, every
     * replacement char of the first token is dropped (not only a leading one).
     */
    record Metaspace(int replacement, boolean prependsPrefix) implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (int i = 0; i < tokens.size(); i++) {
                boolean first = i == 0;
                StringBuilder sb = new StringBuilder();
                tokens.get(i).codePoints().forEach(cp -> {
                    if (cp != replacement) {
                        sb.appendCodePoint(cp);
                    } else if (!(first && prependsPrefix)) {
                        sb.append(' ');
                    }
                });
                out.add(sb.toString());
            }
            return out;
        }
    }

    /** Classic BPE end-of-word suffix ("</w>") becomes a space, except on the last token. */
    record BpeSuffix(String suffix) implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (int i = 0; i < tokens.size(); i++) {
                out.add(tokens.get(i).replace(suffix, i == tokens.size() - 1 ? "" : " "));
            }
            return out;
        }
    }

    /** Applies several decoders in order. */
    record Sequence(List<Decoder> steps) implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            for (Decoder d : steps) {
                tokens = d.decodeChain(tokens);
            }
            return tokens;
        }
    }
}
