package dev.llmplatform.registry.security;

import dev.llmplatform.registry.config.RegistryProperties;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.web.filter.OncePerRequestFilter;
import tools.jackson.databind.json.JsonMapper;

/**
 * The access rule for {@code /v1/registry/**}: reads (GET, HEAD) need a valid token, or none when
 * {@code llm.registry.security.anonymous-reads} is on; every other method needs an admin token. A bearer token is
 * taken from {@code Authorization: Bearer ...}. Refusals are problem details like every other error.
 *
 * <p>A plain filter rather than Spring Security: two roles and static tokens need no more, and it keeps the request
 * path (multi-GB streaming uploads) free of anything that might buffer.
 */
public class TokenAuthenticationFilter extends OncePerRequestFilter {
    private static final Set<String> READS = Set.of("GET", "HEAD", "OPTIONS");

    private final TokenRegistry tokens;
    private final boolean anonymousReads;
    private final JsonMapper json;

    public TokenAuthenticationFilter(TokenRegistry tokens, RegistryProperties properties, JsonMapper json) {
        this.tokens = tokens;
        this.anonymousReads = properties.security().anonymousReads();
        this.json = json;
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        boolean read = READS.contains(request.getMethod());
        String header = request.getHeader(HttpHeaders.AUTHORIZATION);
        Caller caller;
        if (header == null || header.isBlank()) {
            if (!read) {
                refuse(request, response, 401, "unauthorized", "writes need an admin token (Authorization: Bearer ...)");
                return;
            }
            if (!anonymousReads) {
                refuse(request, response, 401, "unauthorized", "this registry needs a token for reads too (Authorization: Bearer ...)");
                return;
            }
            caller = Caller.ANONYMOUS;
        } else {
            Optional<Caller> known = header.regionMatches(true, 0, "Bearer ", 0, 7)
                    ? tokens.authenticate(header.substring(7).strip()) : Optional.empty();
            if (known.isEmpty()) {
                refuse(request, response, 401, "unauthorized", "the token is not known to this registry (expected Authorization: Bearer <token>)");
                return;
            }
            caller = known.get();
            if (!read && !caller.admin()) {
                refuse(request, response, 403, "forbidden", "token '" + caller.name() + "' may read but not write; writes need an admin token");
                return;
            }
        }
        request.setAttribute(Caller.ATTRIBUTE, caller);
        chain.doFilter(request, response);
    }

    private void refuse(HttpServletRequest request, HttpServletResponse response, int status, String slug, String detail)
            throws IOException {
        Map<String, Object> problem = new LinkedHashMap<>();
        problem.put("type", "urn:llm-registry:" + slug);
        problem.put("title", status == 401 ? "Unauthorized" : "Forbidden");
        problem.put("status", status);
        problem.put("detail", detail);
        problem.put("instance", request.getRequestURI());
        response.setStatus(status);
        if (status == 401) {
            response.setHeader(HttpHeaders.WWW_AUTHENTICATE, "Bearer realm=\"llm-registry\"");
        }
        response.setContentType(MediaType.APPLICATION_PROBLEM_JSON_VALUE);
        json.writeValue(response.getOutputStream(), problem);
    }
}
