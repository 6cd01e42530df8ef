package dev.llmplatform.inference.api;

import org.springframework.http.HttpStatus;

/**
 * An error the API answers with OpenAI's error object, {@code {"error": {"message", "type", "param", "code"}}}, and
 * the given status. Messages name the parameter that is wrong and what was expected; they never quote prompts.
 */
public final class ApiException extends RuntimeException {
    private final HttpStatus status;
    private final String type;
    private final String param;
    private final String code;

    public ApiException(HttpStatus status, String type, String message, String param, String code) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** 400: a parameter is missing, of the wrong type or out of range. */
    public static ApiException invalid(String param, String message) {
        return new ApiException(HttpStatus.BAD_REQUEST, "invalid_request_error", message, param, "invalid_value");
    }

    /** 400: a parameter has the wrong JSON type. */
    public static ApiException invalidType(String param, String expected, String got) {
        return new ApiException(HttpStatus.BAD_REQUEST, "invalid_request_error",
                "Invalid type for '" + param + "': expected " + expected + ", but got " + got + " instead.", param,
                "invalid_type");
    }

    /** 400: a required parameter is absent. */
    public static ApiException missing(String param) {
        return new ApiException(HttpStatus.BAD_REQUEST, "invalid_request_error",
                "Missing required parameter: '" + param + "'.", param, "missing_required_parameter");
    }

    /** 400: the body is not JSON, or not a JSON object. */
    public static ApiException unparsable(String detail) {
        return new ApiException(HttpStatus.BAD_REQUEST, "invalid_request_error",
                "We could not parse the JSON body of your request. (" + detail + ")", null, "invalid_json");
    }

    /** 400: prompt plus completion would not fit the model's context. */
    public static ApiException contextLengthExceeded(int context, int promptTokens, int completionTokens, String param) {
        String message = "This model's maximum context length is " + context + " tokens. However, you requested "
                + (promptTokens + completionTokens) + " tokens (" + promptTokens + " in the "
                + ("messages".equals(param) ? "messages" : "prompt") + ", " + completionTokens
                + " in the completion). Please reduce the length of the " + ("messages".equals(param) ? "messages" : "prompt")
                + " or completion.";
        return new ApiException(HttpStatus.BAD_REQUEST, "invalid_request_error", message, param, "context_length_exceeded");
    }

    /** 404: the request names a model this service does not serve. */
    public static ApiException modelNotFound(String model) {
        return new ApiException(HttpStatus.NOT_FOUND, "invalid_request_error",
                "The model `" + model + "` does not exist or you do not have access to it.", "model", "model_not_found");
    }

    /** 429: the runtime's waiting queue is full. */
    public static ApiException queueFull(String message) {
        return new ApiException(HttpStatus.TOO_MANY_REQUESTS, "rate_limit_error", message, null, "queue_full");
    }

    /** 503: the model is not loaded (yet), or the service is shutting down. */
    public static ApiException notReady(String message) {
        return new ApiException(HttpStatus.SERVICE_UNAVAILABLE, "service_unavailable", message, null, "model_not_ready");
    }

    /** 500: the engine failed while generating. */
    public static ApiException internal(String message) {
        return new ApiException(HttpStatus.INTERNAL_SERVER_ERROR, "server_error", message, null, null);
    }

    public HttpStatus status() {
        return status;
    }

    public String type() {
        return type;
    }

    public String param() {
        return param;
    }

    public String code() {
        return code;
    }
}
