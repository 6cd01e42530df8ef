package dev.llmplatform.gateway.keys;

/**
 * Who sent a request: the API key's name (never the key) and its limits.
 *
 * @param name              the key's configured name, or {@code anonymous} when keys are not required
 * @param requestsPerMinute most requests per minute, 0 for no limit
 * @param tokensPerMinute   most tokens per minute, 0 for no limit
 */
public record Caller(String name, long requestsPerMinute, long tokensPerMinute) {
    /** Exchange attribute holding the caller. */
    public static final String ATTR = Caller.class.getName();

    public static final Caller ANONYMOUS = new Caller("anonymous", 0, 0);

    public boolean limited() {
        return requestsPerMinute > 0 || tokensPerMinute > 0;
    }
}
