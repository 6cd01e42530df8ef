package dev.llmplatform.registry.security;

import jakarta.servlet.http.HttpServletRequest;

/**
 * Who is making a request: the name of their token (what the audit log records) and whether it may write.
 * Set on the request by {@link TokenAuthenticationFilter}.
 */
public record Caller(String name, boolean admin) {
    public static final String ATTRIBUTE = Caller.class.getName();
    public static final Caller ANONYMOUS = new Caller("anonymous", false);

    public static Caller of(HttpServletRequest request) {
        Object c = request.getAttribute(ATTRIBUTE);
        return c instanceof Caller caller ? caller : ANONYMOUS;
    }
}
