package dev.llmplatform.engine.registry;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The registry's HTTP edge as the client sees it: builds requests under the base URL with the bearer token, and
 * turns a non-2xx answer into a {@link RegistryException} carrying the problem details' type and detail.
 */
final class RegistryHttp {
    static final JsonMapper JSON = JsonMapper.builder().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();

    private final URI base;
    private final String token;
    private final HttpClient http;

    RegistryHttp(URI base, String token) {
        String s = base.toString();
        this.base = URI.create(s.endsWith("/") ? s.substring(0, s.length() - 1) : s);
        this.token = token == null || token.isBlank() ? null : token;
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NORMAL).build();
    }

    URI base() {
        return base;
    }

    HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return b;
    }

    /** Sends and returns the response when its status is 2xx; otherwise reads the problem details and throws. */
    HttpResponse<InputStream> send(HttpRequest request) throws IOException {
        HttpResponse<InputStream> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RegistryException("interrupted talking to the registry at " + base, e);
        } catch (IOException e) {
            throw new RegistryException(request.method() + " " + request.uri() + ": " + describe(e), e);
        }
        if (response.statusCode() / 100 != 2) {
            try (InputStream in = response.body()) {
                throw problem(request, response.statusCode(), new String(in.readNBytes(64 * 1024), StandardCharsets.UTF_8));
            }
        }
        return response;
    }

    <T> T sendJson(HttpRequest request, Class<T> type) throws IOException {
        HttpResponse<InputStream> r = send(request);
        try (InputStream in = r.body()) {
            return JSON.readValue(in, type);
        } catch (JacksonException e) {
            throw new RegistryException(0, null, "unexpected answer from " + request.uri() + ": " + e.getOriginalMessage());
        }
    }

    JsonNode sendJson(HttpRequest request) throws IOException {
        return sendJson(request, JsonNode.class);
    }

    /** Sends a request whose answer has nothing the caller needs beyond its success. */
    void sendDiscarding(HttpRequest request) throws IOException {
        try (InputStream in = send(request).body()) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
        }
    }

    static HttpRequest.BodyPublisher json(Object body) {
        return HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body));
    }

    private static RegistryException problem(HttpRequest request, int status, String body) {
        String type = null;
        String detail = body.isBlank() ? "(no details)" : body.strip();
        try {
            JsonNode p = JSON.readTree(body);
            if (p.isObject()) {
                type = p.path("type").asString(null);
                String title = p.path("title").asString("");
                String d = p.path("detail").asString("");
                detail = d.isEmpty() ? title : d;
            }
        } catch (JacksonException notJson) {
            // keep the raw text
        }
        return new RegistryException(status, type, "registry answered " + status + " to " + request.method() + " "
                + request.uri().getPath() + ": " + detail);
    }

    private static String describe(IOException e) {
        if (e instanceof java.net.ConnectException) {
            return "cannot connect (is the registry running? set --registry or LLM_REGISTRY_URL)";
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
}
