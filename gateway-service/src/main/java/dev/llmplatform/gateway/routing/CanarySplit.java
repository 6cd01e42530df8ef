package dev.llmplatform.gateway.routing;

import java.nio.charset.StandardCharsets;

/**
 * Which side of a canary split a caller is on. Each sticky key (API key name, plus the request's {@code user} when
 * it has one) hashes to a fixed point in [0, 100); the canary takes the keys below its percent. So a caller stays on
 * one side while the percent stays, and raising the percent only moves callers from stable to canary, never back.
 */
public final class CanarySplit {
    private CanarySplit() {
    }

    /** Whether {@code stickyKey} falls in the canary's {@code percent}. */
    public static boolean inCanary(String stickyKey, int percent) {
        if (percent <= 0) {
            return false;
        }
        if (percent >= 100) {
            return true;
        }
        return point(stickyKey) < percent * 100L;
    }

    /** The key's point in [0, 10000): FNV-1a over UTF-8, then SplitMix64's finalizer for an even spread. */
    static long point(String key) {
        long h = 0xcbf29ce484222325L;
        for (byte b : key.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        h = (h ^ (h >>> 30)) * 0xbf58476d1ce4e5b9L;
        h = (h ^ (h >>> 27)) * 0x94d049bb133111ebL;
        h = h ^ (h >>> 31);
        return Long.remainderUnsigned(h, 10_000);
    }
}
