package dev.llmplatform.inference.api;

import dev.llmplatform.engine.tokenizer.ChatMessage;
import dev.llmplatform.engine.tokenizer.TokenizerException;
import dev.llmplatform.inference.api.CompletionRequest.Endpoint;
import dev.llmplatform.inference.config.InferenceProperties;
import dev.llmplatform.inference.engine.Generation;
import dev.llmplatform.inference.engine.GenerationService;
import dev.llmplatform.inference.engine.ServedModel;
import dev.llmplatform.inference.metrics.InferenceMetrics;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferFactory;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.stereotype.Component;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * The OpenAI endpoints: {@code POST /v1/chat/completions}, {@code POST /v1/completions}, {@code GET /v1/models}.
 *
 * <p>A completion request is read, validated, tokenized and submitted to the runtime before the response starts,
 * so every refusal has its own status (400, 404, 429, 503); then the engine's events become either SSE frames, each
 * written and flushed as it comes, or one JSON body. The response's cancellation (the client closed the connection)
 * cancels the request in the engine.
 */
@Component
public class OpenAiHandler {
    private static final Logger log = LoggerFactory.getLogger(OpenAiHandler.class);
    private static final MediaType EVENT_STREAM = MediaType.parseMediaType("text/event-stream;charset=UTF-8");
    private static final char[] ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".toCharArray();
    private static final SecureRandom RANDOM = new SecureRandom();
    /**
     * Where events become JSON and SSE frames: a few threads, not one per core, since the cores belong to the
     * engine's forward pass (whose spinning workers stall when preempted).
     */
    private static final Scheduler RESPONSES = Schedulers.newParallel("llm-response",
            Math.max(1, Runtime.getRuntime().availableProcessors() / 8), true);

    private final ServedModel served;
    private final InferenceMetrics metrics;
    private final InferenceProperties props;
    private final RequestParser parser;
    private final long startedAt = Instant.now().getEpochSecond();

    public OpenAiHandler(ServedModel served, InferenceMetrics metrics, InferenceProperties props) {
        this.served = served;
        this.metrics = metrics;
        this.props = props;
        this.parser = new RequestParser(props.maxChoices());
    }

    public Mono<ServerResponse> chatCompletions(ServerRequest request) {
        return complete(request, Endpoint.CHAT);
    }

    public Mono<ServerResponse> completions(ServerRequest request) {
        return complete(request, Endpoint.COMPLETIONS);
    }

    public Mono<ServerResponse> models(ServerRequest request) {
        return ServerResponse.ok().contentType(MediaType.APPLICATION_JSON)
                .bodyValue(ApiJson.bytes(new OpenAiSchema.ModelList("list", List.of(modelCard()))));
    }

    public Mono<ServerResponse> model(ServerRequest request) {
        String id = request.pathVariable("id");
        if (!id.equals(served.name())) {
            return error(ApiException.modelNotFound(id));
        }
        return ServerResponse.ok().contentType(MediaType.APPLICATION_JSON).bodyValue(ApiJson.bytes(modelCard()));
    }

    /** Any other path under /v1. */
    public Mono<ServerResponse> unknown(ServerRequest request) {
        String path = request.path();
        boolean known = path.equals("/v1/chat/completions") || path.equals("/v1/completions") || path.equals("/v1/models");
        if (known) {
            return error(new ApiException(HttpStatus.METHOD_NOT_ALLOWED, "invalid_request_error",
                    "Method " + request.method().name() + " is not allowed on " + path + ".", null, "method_not_allowed"));
        }
        return error(new ApiException(HttpStatus.NOT_FOUND, "invalid_request_error",
                "Unknown request URL: " + request.method().name() + " " + path + ".", null, "unknown_url"));
    }

    private OpenAiSchema.Model modelCard() {
        ServedModel.Loaded l = served.loaded();
        return new OpenAiSchema.Model(served.name(), "model", startedAt, "llm-platform",
                l == null ? null : l.description().contextLength());
    }

    private Mono<ServerResponse> complete(ServerRequest request, Endpoint endpoint) {
        long start = System.nanoTime();
        return request.bodyToMono(byte[].class)
                .defaultIfEmpty(new byte[0])
                .flatMap(body -> start(request, endpoint, body, start))
                .onErrorResume(e -> failed(endpoint, e));
    }

    private Mono<ServerResponse> start(ServerRequest http, Endpoint endpoint, byte[] body, long start) {
        var json = RequestParser.parseJson(body);
        CompletionRequest req = endpoint == Endpoint.CHAT ? parser.chat(json) : parser.completion(json);
        if (!req.model().equals(served.name())) {
            throw ApiException.modelNotFound(req.model());
        }
        ServedModel.Loaded model = served.loaded();
        if (model == null) {
            throw ApiException.notReady(switch (served.state()) {
                case FAILED -> "The model failed to load: " + served.failure();
                case BROKEN -> "The model is unavailable: " + served.failure() + ".";
                case STOPPED -> "The server is shutting down.";
                default -> "The model is loading; try again shortly.";
            });
        }
        List<GenerationService.Choice> choices = PromptEncoder.encode(req, model, props);
        Generation gen = GenerationService.submit(model.runtime(), choices, req.n(), req.sampling(),
                req.ignoreEos() ? java.util.Set.of() : model.stopIds(), req.stop(), req.topLogprobs(), start);
        String id = (endpoint == Endpoint.CHAT ? "chatcmpl-" : "cmpl-") + randomId();
        Supplier<String> promptForLog = props.logContent() ? () -> promptText(req) : null;
        ResponseAssembler assembler = new ResponseAssembler(req, gen, model.tokenizer(), metrics, id,
                Instant.now().getEpochSecond(), served.name(), promptForLog);
        return req.stream() ? stream(http, assembler, gen) : json(assembler, gen);
    }

    private Mono<ServerResponse> stream(ServerRequest http, ResponseAssembler assembler, Generation gen) {
        Flux<byte[]> frames = Flux.concat(
                Flux.fromIterable(assembler.startFrames()),
                gen.events().publishOn(RESPONSES).concatMapIterable(assembler::frames),
                Flux.defer(() -> Flux.fromIterable(assembler.endFrames())));
        Flux<byte[]> guarded = frames.doOnCancel(() -> {
            gen.cancel();
            assembler.clientGone();
        });
        return ServerResponse.ok()
                .contentType(EVENT_STREAM)
                .header(HttpHeaders.CACHE_CONTROL, "no-cache")
                .header("X-Accel-Buffering", "no")
                .header("X-Request-Id", assembler.id())
                .body((message, context) -> {
                    DataBufferFactory buffers = message.bufferFactory();
                    // Each frame is its own write, flushed at once: tokens must not wait in a buffer.
                    Flux<Mono<DataBuffer>> each = guarded.map(bytes -> Mono.just(buffers.wrap(bytes)));
                    return message.writeAndFlushWith(each);
                });
    }

    private Mono<ServerResponse> json(ResponseAssembler assembler, Generation gen) {
        return gen.events()
                .publishOn(RESPONSES)
                .doOnNext(assembler::accumulate)
                .then(Mono.fromCallable(() -> ApiJson.bytes(assembler.response())))
                .doOnCancel(() -> {
                    gen.cancel();
                    assembler.clientGone();
                })
                .flatMap(bytes -> ServerResponse.ok().contentType(MediaType.APPLICATION_JSON)
                        .header("X-Request-Id", assembler.id()).bodyValue(bytes));
    }

    private Mono<ServerResponse> failed(Endpoint endpoint, Throwable e) {
        ApiException api;
        if (e instanceof ApiException a) {
            api = a;
        } else if (e instanceof DataBufferLimitException) {
            api = new ApiException(HttpStatus.PAYLOAD_TOO_LARGE, "invalid_request_error",
                    "The request body is larger than this server accepts (spring.codec.max-in-memory-size).", null,
                    "request_too_large");
        } else {
            log.error("Unexpected failure in {}: {}", endpoint.metricTag(), e.toString(), e);
            api = ApiException.internal("The server failed to handle the request.");
        }
        metrics.outcome(endpoint.metricTag(), outcomeOf(api));
        return error(api);
    }

    private static String outcomeOf(ApiException e) {
        return switch (e.status()) {
            case NOT_FOUND -> "model_not_found";
            case TOO_MANY_REQUESTS -> "queue_full";
            case SERVICE_UNAVAILABLE -> "not_ready";
            case INTERNAL_SERVER_ERROR -> "error";
            default -> "context_length_exceeded".equals(e.code()) ? "context_length_exceeded" : "bad_request";
        };
    }

    static Mono<ServerResponse> error(ApiException e) {
        var builder = ServerResponse.status(e.status()).contentType(MediaType.APPLICATION_JSON);
        if (e.status() == HttpStatus.TOO_MANY_REQUESTS || e.status() == HttpStatus.SERVICE_UNAVAILABLE) {
            builder = builder.header(HttpHeaders.RETRY_AFTER, "1");
        }
        return builder.bodyValue(ApiJson.bytes(new OpenAiSchema.ErrorBody(
                new OpenAiSchema.ErrorBody.Error(e.getMessage(), e.type(), e.param(), e.code()))));
    }

    private static String promptText(CompletionRequest req) {
        List<String> parts = new ArrayList<>();
        for (CompletionRequest.Prompt p : req.prompts()) {
            switch (p) {
                case CompletionRequest.TextPrompt t -> parts.add(t.text());
                case CompletionRequest.TokenPrompt t -> parts.add(java.util.Arrays.toString(t.ids()));
                case CompletionRequest.ChatPrompt c -> {
                    for (ChatMessage m : c.messages()) {
                        parts.add(m.role() + ": " + m.content());
                    }
                }
            }
        }
        return String.join(" | ", parts);
    }

    private static String randomId() {
        char[] c = new char[24];
        for (int i = 0; i < c.length; i++) {
            c[i] = ID_CHARS[RANDOM.nextInt(ID_CHARS.length)];
        }
        return new String(c);
    }

    /** Template failures are the request's fault (roles out of order, ...): 400 on messages. */
    static ApiException templateFailure(TokenizerException e) {
        return ApiException.invalid("messages", "The model's chat template refused the messages: " + e.getMessage());
    }
}
