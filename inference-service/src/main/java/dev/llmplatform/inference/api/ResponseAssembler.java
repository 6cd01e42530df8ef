package dev.llmplatform.inference.api;

import dev.llmplatform.engine.runtime.FinishReason;
import dev.llmplatform.engine.runtime.GenerationEvent;
import dev.llmplatform.engine.runtime.RequestHandle;
import dev.llmplatform.engine.tokenizer.Tokenizer;
import dev.llmplatform.inference.api.CompletionRequest.Endpoint;
import dev.llmplatform.inference.api.OpenAiSchema.ChatChoice;
import dev.llmplatform.inference.api.OpenAiSchema.ChatCompletion;
import dev.llmplatform.inference.api.OpenAiSchema.ChatCompletionChunk;
import dev.llmplatform.inference.api.OpenAiSchema.ChatLogprobs;
import dev.llmplatform.inference.api.OpenAiSchema.ChunkChoice;
import dev.llmplatform.inference.api.OpenAiSchema.Completion;
import dev.llmplatform.inference.api.OpenAiSchema.CompletionChoice;
import dev.llmplatform.inference.api.OpenAiSchema.CompletionLogprobs;
import dev.llmplatform.inference.api.OpenAiSchema.Delta;
import dev.llmplatform.inference.api.OpenAiSchema.TokenLogprob;
import dev.llmplatform.inference.api.OpenAiSchema.TopLogprob;
import dev.llmplatform.inference.api.OpenAiSchema.Usage;
import dev.llmplatform.inference.engine.Generation;
import dev.llmplatform.inference.metrics.InferenceMetrics;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.node.NullNode;

/**
 * Turns one request's engine events into the OpenAI response: Server-Sent Event frames as they come (streaming), or
 * one JSON body at the end. Records the request's metrics on the way. Events arrive one at a time (the stream is
 * serialized), on a worker thread, never on the runtime's.
 */
final class ResponseAssembler {
    private static final Logger log = LoggerFactory.getLogger(ResponseAssembler.class);
    private static final byte[] DATA = "data: ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] END = "\n\n".getBytes(StandardCharsets.US_ASCII);
    static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);

    private final CompletionRequest request;
    private final Generation generation;
    private final Tokenizer tokenizer;
    private final InferenceMetrics metrics;
    private final String id;
    private final long created;
    private final String model;
    private final boolean chat;
    private final boolean keepText;
    private final Supplier<String> promptForLog;
    private final Choice[] choices;
    private final AtomicBoolean recorded = new AtomicBoolean();
    private int finished;

    /** One choice's progress. */
    private static final class Choice {
        final StringBuilder text = new StringBuilder();
        boolean started;
        long lastNanos;
        int textLength;
        FinishReason reason;
        String error;
        int completionTokens;
        int promptTokens;
        int cachedTokens;
        List<TokenLogprob> chatLogprobs;
        CompletionLogprobs completionLogprobs;
    }

    /**
     * @param promptForLog the prompt as text, asked for only when {@code llm.inference.log-content} is on (null
     *                     otherwise)
     */
    ResponseAssembler(CompletionRequest request, Generation generation, Tokenizer tokenizer, InferenceMetrics metrics,
                      String id, long created, String model, Supplier<String> promptForLog) {
        this.request = request;
        this.generation = generation;
        this.tokenizer = tokenizer;
        this.metrics = metrics;
        this.id = id;
        this.created = created;
        this.model = model;
        this.chat = request.endpoint() == Endpoint.CHAT;
        this.promptForLog = promptForLog;
        this.keepText = !request.stream() || promptForLog != null;
        this.choices = new Choice[generation.choices()];
        for (int i = 0; i < choices.length; i++) {
            choices[i] = new Choice();
            if (request.topLogprobs() >= 0) {
                if (chat) {
                    choices[i].chatLogprobs = new ArrayList<>();
                } else {
                    choices[i].completionLogprobs = new CompletionLogprobs(new ArrayList<>(), new ArrayList<>(),
                            new ArrayList<>(), new ArrayList<>());
                }
            }
        }
    }

    String id() {
        return id;
    }

    // ---- streaming

    /** The frames sent before any token: for chat, each choice's first chunk carries the assistant role. */
    List<byte[]> startFrames() {
        if (!chat) {
            return List.of();
        }
        List<byte[]> frames = new ArrayList<>(choices.length);
        for (int i = 0; i < choices.length; i++) {
            frames.add(frame(chatChunk(new ChunkChoice(i, new Delta("assistant", ""), null, null))));
        }
        return frames;
    }

    /** The frames for one event (none for a token whose text is held back and whose logprobs were not asked for). */
    List<byte[]> frames(Generation.ChoiceEvent ev) {
        int index = ev.index();
        Choice c = choices[index];
        switch (ev.event()) {
            case GenerationEvent.Token t -> {
                onToken(c, ev);
                String text = t.text();
                if (text.isEmpty() && t.logprob() == null) {
                    return List.of();
                }
                return List.of(frame(chat
                        ? chatChunk(new ChunkChoice(index, new Delta(null, text), chatLogprobs(t, c, false), null))
                        : completionChunk(new CompletionChoice(text, index, completionLogprobs(t, c, text, false), null))));
            }
            case GenerationEvent.Finished f -> {
                onFinished(c, index, f, ev.nanos());
                if (f.reason() == FinishReason.ERROR || f.reason() == FinishReason.CANCELLED) {
                    ApiException e = failure(f);
                    return List.of(frame(new OpenAiSchema.ErrorBody(new OpenAiSchema.ErrorBody.Error(e.getMessage(),
                            e.type(), e.param(), e.code()))));
                }
                String text = f.text().isEmpty() ? null : f.text();
                String reason = f.reason().apiName();
                return List.of(frame(chat
                        ? chatChunk(new ChunkChoice(index, new Delta(null, text), null, reason))
                        : completionChunk(new CompletionChoice(text == null ? "" : text, index, null, reason))));
            }
        }
    }

    /** The frames after the last event: the usage chunk when asked for, then [DONE]. */
    List<byte[]> endFrames() {
        List<byte[]> frames = new ArrayList<>(2);
        if (request.includeUsage()) {
            frames.add(frame(chat
                    ? new ChatCompletionChunk(id, "chat.completion.chunk", created, model, List.of(), usage())
                    : new Completion(id, "text_completion", created, model, List.of(), usage())));
        }
        frames.add(DONE);
        return frames;
    }

    private ChatCompletionChunk chatChunk(ChunkChoice choice) {
        return new ChatCompletionChunk(id, "chat.completion.chunk", created, model, List.of(choice),
                request.includeUsage() ? NullNode.getInstance() : null);
    }

    private Completion completionChunk(CompletionChoice choice) {
        return new Completion(id, "text_completion", created, model, List.of(choice),
                request.includeUsage() ? NullNode.getInstance() : null);
    }

    static byte[] frame(Object value) {
        byte[] json = ApiJson.bytes(value);
        byte[] out = new byte[DATA.length + json.length + END.length];
        System.arraycopy(DATA, 0, out, 0, DATA.length);
        System.arraycopy(json, 0, out, DATA.length, json.length);
        System.arraycopy(END, 0, out, DATA.length + json.length, END.length);
        return out;
    }

    // ---- non-streaming

    void accumulate(Generation.ChoiceEvent ev) {
        Choice c = choices[ev.index()];
        switch (ev.event()) {
            case GenerationEvent.Token t -> {
                onToken(c, ev);
                if (chat) {
                    chatLogprobs(t, c, true);
                } else {
                    completionLogprobs(t, c, t.text(), true);
                }
            }
            case GenerationEvent.Finished f -> onFinished(c, ev.index(), f, ev.nanos());
        }
    }

    /** The whole response, once every choice has finished; an error (500, or 503 at shutdown) if one failed. */
    Object response() {
        for (Choice c : choices) {
            if (c.reason == FinishReason.ERROR || c.reason == FinishReason.CANCELLED) {
                throw failure(new GenerationEvent.Finished(c.reason, "", 0, 0, 0, c.error));
            }
        }
        if (chat) {
            List<ChatChoice> out = new ArrayList<>(choices.length);
            for (int i = 0; i < choices.length; i++) {
                Choice c = choices[i];
                out.add(new ChatChoice(i, new OpenAiSchema.ChatMessage("assistant", c.text.toString(), null),
                        c.chatLogprobs == null ? null : new ChatLogprobs(c.chatLogprobs, null), c.reason.apiName()));
            }
            return new ChatCompletion(id, "chat.completion", created, model, out, usage());
        }
        List<CompletionChoice> out = new ArrayList<>(choices.length);
        for (int i = 0; i < choices.length; i++) {
            Choice c = choices[i];
            out.add(new CompletionChoice(c.text.toString(), i, c.completionLogprobs, c.reason.apiName()));
        }
        return new Completion(id, "text_completion", created, model, out, usage());
    }

    // ---- shared

    private void onToken(Choice c, Generation.ChoiceEvent ev) {
        if (!c.started) {
            c.started = true;
            metrics.timeToFirstToken(ev.nanos() - generation.startNanos());
        } else {
            metrics.interTokenLatency(ev.nanos() - c.lastNanos);
        }
        c.lastNanos = ev.nanos();
        String text = ((GenerationEvent.Token) ev.event()).text();
        if (keepText) {
            c.text.append(text);
        }
        c.textLength += text.length();
    }

    private void onFinished(Choice c, int index, GenerationEvent.Finished f, long nanos) {
        c.reason = f.reason();
        c.error = f.error();
        c.completionTokens = f.completionTokens();
        c.promptTokens = f.promptTokens();
        c.cachedTokens = f.cachedPromptTokens();
        if (keepText) {
            c.text.append(f.text());
        }
        c.textLength += f.text().length();
        if (f.reason() == FinishReason.STOP || f.reason() == FinishReason.LENGTH) {
            metrics.endToEnd(nanos - generation.startNanos());
        }
        RequestHandle h = generation.handles().get(index);
        if (h.admittedNanos() != 0) {
            metrics.queueTime(h.admittedNanos() - h.submittedNanos());
        }
        if (++finished == choices.length) {
            complete();
        }
    }

    /** Every choice finished: count the request's outcome and log it. */
    private void complete() {
        if (!recorded.compareAndSet(false, true)) {
            return;
        }
        String outcome = "stop";
        for (Choice c : choices) {
            outcome = switch (c.reason) {
                case ERROR -> "error";
                case CANCELLED -> outcome.equals("error") ? outcome : "cancelled";
                case LENGTH -> outcome.equals("stop") ? "length" : outcome;
                case STOP -> outcome;
            };
        }
        metrics.outcome(request.endpoint().metricTag(), outcome);
        Usage u = usage();
        long micros = (System.nanoTime() - generation.startNanos()) / 1000;
        if (promptForLog != null) {
            StringBuilder completions = new StringBuilder();
            for (int i = 0; i < choices.length; i++) {
                completions.append(i == 0 ? "" : " | ").append('[').append(i).append("] ").append(choices[i].text);
            }
            log.info("{} {}: prompt={} completion={} prompt_tokens={} completion_tokens={} outcome={} ({} ms)", id,
                    request.endpoint().metricTag(), quote(promptForLog.get()), quote(completions.toString()),
                    u.promptTokens(), u.completionTokens(), outcome, micros / 1000);
        } else if (log.isDebugEnabled()) {
            log.debug("{} {}: prompt_tokens={} cached={} completion_tokens={} choices={} outcome={} ({} ms)", id,
                    request.endpoint().metricTag(), u.promptTokens(), u.promptTokensDetails().cachedTokens(),
                    u.completionTokens(), choices.length, outcome, micros / 1000);
        }
        for (Choice c : choices) {
            if (c.reason == FinishReason.ERROR) {
                log.error("{}: the engine failed: {}", id, c.error);
            }
        }
    }

    /** The client went away before the end: the engine requests are cancelled (by the stream), count it once. */
    void clientGone() {
        if (recorded.compareAndSet(false, true)) {
            metrics.outcome(request.endpoint().metricTag(), "cancelled");
            log.debug("{}: the client disconnected; cancelled in the engine", id);
        }
    }

    /** Usage: each prompt counted once (not once per choice), completions summed over choices. */
    private Usage usage() {
        int prompt = 0;
        int cached = 0;
        int completion = 0;
        for (int i = 0; i < choices.length; i++) {
            Choice c = choices[i];
            if (i % request.n() == 0) {
                prompt += c.reason == null ? generation.promptLengths()[i] : c.promptTokens;
                cached += c.cachedTokens;
            }
            completion += c.completionTokens;
        }
        return Usage.of(prompt, completion, cached);
    }

    private ChatLogprobs chatLogprobs(GenerationEvent.Token t, Choice c, boolean accumulate) {
        GenerationEvent.Logprob lp = t.logprob();
        if (lp == null) {
            return null;
        }
        List<TopLogprob> top = new ArrayList<>(lp.top().size());
        for (GenerationEvent.TopLogprob alt : lp.top()) {
            String s = tokenText(alt.tokenId());
            top.add(new TopLogprob(s, alt.logprob(), utf8(s)));
        }
        String s = tokenText(lp.tokenId());
        TokenLogprob entry = new TokenLogprob(s, lp.logprob(), utf8(s), top);
        if (accumulate) {
            c.chatLogprobs.add(entry);
            return null;
        }
        return new ChatLogprobs(List.of(entry), null);
    }

    private CompletionLogprobs completionLogprobs(GenerationEvent.Token t, Choice c, String text, boolean accumulate) {
        GenerationEvent.Logprob lp = t.logprob();
        if (lp == null) {
            return null;
        }
        String token = tokenText(lp.tokenId());
        Map<String, Float> top = new LinkedHashMap<>();
        for (GenerationEvent.TopLogprob alt : lp.top()) {
            top.putIfAbsent(tokenText(alt.tokenId()), alt.logprob());
        }
        top.putIfAbsent(token, lp.logprob());
        int offset = c.textLength - text.length();
        CompletionLogprobs target = accumulate ? c.completionLogprobs
                : new CompletionLogprobs(new ArrayList<>(1), new ArrayList<>(1), new ArrayList<>(1), new ArrayList<>(1));
        target.tokens().add(token);
        target.tokenLogprobs().add(lp.logprob());
        target.topLogprobs().add(top);
        target.textOffset().add(offset);
        return accumulate ? null : target;
    }

    private String tokenText(int id) {
        return tokenizer.decode(new int[] {id}, false);
    }

    private static int[] utf8(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        int[] out = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = b[i] & 0xff;
        }
        return out;
    }

    private static ApiException failure(GenerationEvent.Finished f) {
        return f.reason() == FinishReason.CANCELLED
                ? ApiException.notReady("The request was cancelled: the server is shutting down.")
                : ApiException.internal("The engine failed while generating: " + f.error());
    }

    private static String quote(String s) {
        return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + '"';
    }
}
