package dev.llmplatform.gateway.proxy;

import java.nio.charset.StandardCharsets;

/**
 * Counts generated tokens in a response as its bytes pass, without parsing it (chunks may split anywhere, even inside
 * a pattern). A stream carries one chunk per token, each with {@code "finish_reason":null}, except a chat stream's
 * first chunk per choice ({@code "role":"assistant"}), which carries none; a {@code usage} object (non-streamed
 * answers, {@code stream_options.include_usage}) gives the exact count and then takes precedence.
 */
final class GeneratedTokenCounter {
    private final Pattern tokenChunk = new Pattern("\"finish_reason\":null");
    private final Pattern roleChunk = new Pattern("\"role\":\"assistant\"");
    private final Pattern usage = new Pattern("\"completion_tokens\":");
    private long usageValue = -1;
    private long digits = -1;

    void accept(byte b) {
        if (digits >= 0) {
            if (b >= '0' && b <= '9') {
                digits = digits * 10 + (b - '0');
                return;
            }
            usageValue = digits;
            digits = -1;
        }
        tokenChunk.accept(b);
        roleChunk.accept(b);
        if (usage.accept(b)) {
            digits = 0;
        }
    }

    /** Tokens seen so far (the usage's count once seen). */
    long tokens() {
        if (usageValue >= 0) {
            return usageValue;
        }
        return Math.max(0, tokenChunk.matches - roleChunk.matches);
    }

    /** Counts occurrences of one byte pattern across chunk boundaries (patterns here never overlap themselves). */
    private static final class Pattern {
        final byte[] bytes;
        int matched;
        long matches;

        Pattern(String s) {
            this.bytes = s.getBytes(StandardCharsets.US_ASCII);
        }

        boolean accept(byte b) {
            if (bytes[matched] == b) {
                if (++matched == bytes.length) {
                    matched = 0;
                    matches++;
                    return true;
                }
                return false;
            }
            matched = bytes[0] == b ? 1 : 0;
            return false;
        }
    }
}
