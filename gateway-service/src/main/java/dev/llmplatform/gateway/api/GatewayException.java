package dev.llmplatform.gateway.api;

import org.springframework.http.HttpStatus;

/**
 * A request the gateway answers itself, in OpenAI's error format.
 *
 * @see OpenAiErrorHandler
 */
public class GatewayException extends RuntimeException {
    private final HttpStatus status;
    private final String type;
    private final String code;
    private final String param;
    private final long retryAfterSeconds;

    public GatewayException(HttpStatus status, String type, String code, String param, String message,
                            long retryAfterSeconds) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.code = code;
        this.param = param;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public static GatewayException invalidRequest(String code, String param, String message) {
        return new GatewayException(HttpStatus.BAD_REQUEST, "invalid_request_error", code, param, message, 0);
    }

    public static GatewayException modelNotFound(String model) {
        return new GatewayException(HttpStatus.NOT_FOUND, "invalid_request_error", "model_not_found", "model",
                "The model '" + model + "' does not exist or no instance serves it.", 0);
    }

    public static GatewayException noHealthyInstance(String model) {
        return new GatewayException(HttpStatus.SERVICE_UNAVAILABLE, "service_unavailable", "no_healthy_instance", null,
                "No healthy instance serves the model '" + model + "' right now; try again shortly.", 1);
    }

    public static GatewayException unauthorized(String message) {
        return new GatewayException(HttpStatus.UNAUTHORIZED, "invalid_request_error", "invalid_api_key", null, message, 0);
    }

    public static GatewayException tooLarge(long limit) {
        return new GatewayException(HttpStatus.PAYLOAD_TOO_LARGE, "invalid_request_error", "request_too_large", null,
                "The request body is larger than " + limit + " bytes.", 0);
    }

    public static GatewayException rateLimited(String limit, long retryAfterSeconds) {
        return new GatewayException(HttpStatus.TOO_MANY_REQUESTS, "rate_limit_error", "rate_limit_exceeded", null,
                "Rate limit reached: " + limit + ". Retry after " + retryAfterSeconds + " s.", retryAfterSeconds);
    }

    public HttpStatus status() {
        return status;
    }

    public String type() {
        return type;
    }

    public String code() {
        return code;
    }

    public String param() {
        return param;
    }

    /** Seconds for {@code Retry-After}, 0 for none. */
    public long retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
