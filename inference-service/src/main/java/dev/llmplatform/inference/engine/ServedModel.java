package dev.llmplatform.inference.engine;

import dev.llmplatform.engine.Engine;
import dev.llmplatform.engine.arch.ModelRunner;
import dev.llmplatform.engine.model.ModelConfig;
import dev.llmplatform.engine.runtime.EngineRuntime;
import dev.llmplatform.engine.runtime.FinishReason;
import dev.llmplatform.engine.runtime.GenerationEvent;
import dev.llmplatform.engine.runtime.GenerationRequest;
import dev.llmplatform.engine.runtime.RuntimeConfig;
import dev.llmplatform.nativekernels.DeviceKvBudget;
import dev.llmplatform.engine.runtime.SamplingParams;
import dev.llmplatform.engine.runtime.StopConditions;
import dev.llmplatform.engine.tokenizer.ChatMessage;
import dev.llmplatform.engine.tokenizer.ChatTemplate;
import dev.llmplatform.engine.tokenizer.Tokenizer;
import dev.llmplatform.inference.config.InferenceProperties;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.boot.availability.LivenessState;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;

/**
 * The model this service serves: loads it in the background when the application starts (so that liveness and
 * {@code /actuator/health} answer while a large checkpoint maps and warms up), runs a warm-up generation through the
 * runtime (a real forward pass, sampling and detokenization), and only then reports ready. Until then the API answers
 * 503; when loading fails the failure is kept for the health endpoint and liveness turns to broken, so that an
 * orchestrator restarts the instance.
 *
 * <p>{@code llm.inference.tensor-parallel-size} splits the model over ranks as it loads (the warm-up then runs every
 * rank, so readiness waits for all of them); {@code llm.inference.backend=cuda} runs it on the GPU instead of the
 * CPU, on one GPU or split over one GPU per rank ({@link RunnerFactory}), and a machine without them fails the load
 * with what is missing.
 *
 * <p>A runner that can no longer run (a GPU rank failed and its all-reduce group was aborted) turns the model
 * {@link State#BROKEN}: requests get 503 at once, health is DOWN with the reason and liveness broken, so that an
 * orchestrator restarts the instance, which reloads the model.
 */
@Component
public class ServedModel implements SmartLifecycle {
    private static final Logger log = LoggerFactory.getLogger(ServedModel.class);

    /** BROKEN: was ready, then its runner became unusable for good (see {@link ServingRunner#unusableReason()}). */
    public enum State { STARTING, LOADING, READY, FAILED, BROKEN, STOPPED }

    /**
     * The loaded parts, all at once (published only when ready); {@code runner} computes the model: the engine's own
     * (CPU, split or not) or a GPU runner (one GPU, or one per rank), with {@code serving} saying whether it still can.
     */
    public record Loaded(Engine engine, EngineRuntime runtime, Tokenizer tokenizer, ChatTemplate chatTemplate,
                         Set<Integer> stopIds, ModelDescription description, ServingRunner serving) {

        public ModelRunner runner() {
            return serving.runner();
        }
    }

    /** How long stopping waits for a broken runner to close. */
    private static final Duration BROKEN_CLOSE_TIMEOUT = Duration.ofSeconds(20);

    private final InferenceProperties props;
    private final RunnerFactory runners;
    private final ApplicationEventPublisher events;
    private final String servedName;
    private volatile State state = State.STARTING;
    private volatile String failure;
    private volatile Loaded loaded;
    private volatile Thread loader;

    public ServedModel(InferenceProperties props, RunnerFactory runners, ApplicationEventPublisher events) {
        this.props = props;
        this.runners = runners;
        this.events = events;
        this.servedName = servedName(props);
    }

    /** The configured served name, or the last element of the model's path (or the registry model's name). */
    static String servedName(InferenceProperties props) {
        if (!props.servedModelName().isBlank()) {
            return props.servedModelName();
        }
        String m = props.model();
        if (props.fromRegistry()) {
            m = m.substring(InferenceProperties.REGISTRY_PREFIX.length());
            int at = m.lastIndexOf('@');
            return at < 0 ? m : m.substring(0, at);
        }
        Path p = Path.of(m).normalize().getFileName();
        String name = p == null ? m : p.toString();
        return name.endsWith(".gguf") ? name.substring(0, name.length() - 5) : name;
    }

    public String name() {
        return servedName;
    }

    public State state() {
        checkRunner();
        return state;
    }

    /** Why loading failed, or why the loaded model can no longer run; null otherwise. */
    public String failure() {
        checkRunner();
        return failure;
    }

    /** The loaded model, or null while it is not ready (or no longer usable). */
    public Loaded loaded() {
        checkRunner();
        return state == State.READY ? loaded : null;
    }

    /**
     * Asks a ready model's runner whether it can still run, on every look at the state (each request, each health
     * probe): the question is a field read, and asking then means no request is admitted into a runner that can only
     * throw, without a thread of its own watching.
     */
    private void checkRunner() {
        Loaded l = loaded;
        if (state != State.READY || l == null) {
            return;
        }
        l.serving().unusableReason().get().ifPresent(this::markBroken);
    }

    private synchronized void markBroken(String why) {
        if (state != State.READY) {
            return;
        }
        failure = "the model can no longer run: " + why + " (restart the instance to reload it)";
        state = State.BROKEN;
        log.error("Model '{}': {}", servedName, failure);
        // Only a new process reloads the model: liveness down makes the orchestrator restart this one.
        AvailabilityChangeEvent.publish(events, this, LivenessState.BROKEN);
    }

    @Override
    public void start() {
        failure = null;
        state = State.LOADING;
        loader = Thread.ofPlatform().name("model-loader").daemon().start(this::load);
    }

    /** Waits until the model is ready or failed (for tests and the benchmark). */
    public boolean awaitReady(long timeout, TimeUnit unit) throws InterruptedException {
        Thread t = loader;
        if (t != null) {
            t.join(unit.toMillis(timeout));
        }
        return state == State.READY;
    }

    private void load() {
        long t0 = System.nanoTime();
        Engine engine = null;
        ModelRunner runner = null;
        EngineRuntime runtime = null;
        try {
            ModelLocator.Located where = ModelLocator.locate(props);
            log.info("Loading model '{}' from {} ({} backend, tensor-parallel size {})", servedName, where.source(),
                    props.backend().name().toLowerCase(Locale.ROOT), props.tensorParallelSize());
            engine = Engine.load(where.path(), engineThreads(props.threads()), engineSplit(props));
            Tokenizer tokenizer = engine.tokenizer().orElseThrow(() -> new IllegalArgumentException(
                    "the model at " + where.path() + " has no tokenizer (tokenizer.json): the service speaks text"));
            // Synchronous: a multi-GPU runner returns once every rank holds its weights.
            ServingRunner serving = runners.create(engine);
            runner = serving.runner();
            // On a GPU the cache lives in device memory, in the runner's KV type and (split) heads.
            long perPosition = runner instanceof DeviceKvBudget gpu ? gpu.kvBytesPerPosition() : engine.kvBytesPerPosition();
            RuntimeConfig config = runner instanceof DeviceKvBudget gpu
                    ? deviceRuntimeConfig(gpu, runner.contextLength()) : runtimeConfig(perPosition, runner.contextLength());
            runtime = new EngineRuntime(runner, tokenizer, config);
            ChatTemplate template = tokenizer.chatTemplate().orElse(null);
            ModelDescription description = new ModelDescription(servedName, where.source(), where.registry(), architecture(where.path()),
                    dtype(engine), runner.contextLength(), runner.vocabSize(), config.kvCacheBlocks(), config.kvBlockSize(),
                    (long) config.kvCacheBlocks() * config.kvBlockSize() * perPosition, perPosition, template != null);
            Loaded l = new Loaded(engine, runtime, tokenizer, template, engine.stopIds(), description, serving);
            warmUp(l);
            if (state == State.STOPPED) {
                close(runtime, runner, engine);
                return;
            }
            loaded = l;
            state = State.READY;
            log.info("Model '{}' ready in {} ms: {} {}, context {}, KV cache {} blocks of {} positions ({} MB), "
                            + "max running {}, max waiting {}", servedName, (System.nanoTime() - t0) / 1_000_000,
                    description.architecture(), description.dtype(), description.contextLength(),
                    description.kvCacheBlocks(), description.kvBlockSize(), description.kvCacheBytes() >> 20,
                    config.maxRunning(), config.maxWaiting());
        } catch (Throwable e) {
            close(runtime, runner, engine);
            failure = e.getMessage() == null ? e.toString() : e.getMessage();
            state = State.FAILED;
            log.error("Model '{}' failed to load: {}", servedName, failure, e);
            AvailabilityChangeEvent.publish(events, this, LivenessState.BROKEN);
        }
    }

    /**
     * The tensor-parallel size the engine loads at: 0 ("as built": an engine built with {@code --tp N} loads at its
     * N) for size 1 and for the CUDA backend, whose multi-GPU runner cuts the whole model itself; the configured size
     * on the CPU, whose ranks are the engine's.
     */
    static int engineSplit(InferenceProperties props) {
        return props.backend() == InferenceProperties.Backend.CUDA || props.tensorParallelSize() == 1
                ? 0 : props.tensorParallelSize();
    }

    /**
     * The forward pass's threads: as configured, or all cores but a quarter, which are left to the HTTP layer (the
     * engine's workers spin between kernels, and a preempted worker stalls the whole step: on 16 cores, 14 threads
     * cost 17% of the throughput through HTTP at 32 streams, 12 threads 3%).
     */
    public static int engineThreads(int configured) {
        int cores = Runtime.getRuntime().availableProcessors();
        return configured > 0 ? configured : Math.max(1, cores - cores / 4);
    }

    /** A load that failed before the application started is reported again: startup resets liveness to correct. */
    @EventListener(ApplicationReadyEvent.class)
    void reportEarlyFailure() {
        if (state == State.FAILED) {
            AvailabilityChangeEvent.publish(events, this, LivenessState.BROKEN);
        }
    }

    RuntimeConfig runtimeConfig(long perPosition, int contextLength) {
        long bytes;
        if (props.kvCacheSize() != null) {
            bytes = props.kvCacheSize().toBytes();
        } else {
            long full = (long) props.maxRunning() * contextLength * perPosition;
            bytes = Math.min(full, (long) (Runtime.getRuntime().maxMemory() * 0.4));
        }
        int blocks = RuntimeConfig.blocksFor(bytes, perPosition, props.kvBlockSize());
        long heap = Runtime.getRuntime().maxMemory();
        if ((long) blocks * props.kvBlockSize() * perPosition > heap * 0.8) {
            log.warn("llm.inference.kv-cache-size ({} MB) is close to or above the maximum heap ({} MB): raise -Xmx",
                    bytes >> 20, heap >> 20);
        }
        return new RuntimeConfig(props.maxRunning(), props.maxWaiting(), props.maxTokensPerStep(), props.kvBlockSize(),
                blocks, props.prefixCaching(), RuntimeConfig.Policy.IN_FLIGHT);
    }

    /**
     * The KV cache in GPU memory: {@code kv-cache-size} per GPU when set, else what {@code gpu-memory-utilization}
     * leaves once the weights are loaded (vLLM's rule), in blocks of the device's bytes per position.
     */
    RuntimeConfig deviceRuntimeConfig(DeviceKvBudget gpu, int contextLength) {
        long perPosition = gpu.kvBytesPerPosition();
        long[] memory = gpu.deviceMemory();
        long bytes = props.kvCacheSize() != null ? props.kvCacheSize().toBytes()
                : DeviceKvBudget.budget(memory[0], memory[1], props.gpuMemoryUtilization());
        int blocks = (int) Math.min(Integer.MAX_VALUE / 2, bytes / ((long) perPosition * props.kvBlockSize()));
        int needed = (contextLength + props.kvBlockSize() - 1) / props.kvBlockSize();
        if (blocks < needed) {
            throw new IllegalStateException("the GPU has room for " + blocks + " KV blocks of " + props.kvBlockSize()
                    + " positions (" + (bytes >> 20) + " MB of " + (memory[1] >> 20) + " MB, " + (memory[0] >> 20)
                    + " MB free after the weights), fewer than one sequence of the full context needs (" + needed
                    + "): raise llm.inference.gpu-memory-utilization (now " + props.gpuMemoryUtilization()
                    + ") or llm.inference.kv-cache-size, use llm.inference.kv-cache-dtype=bfloat16 or fp8, or more GPUs");
        }
        log.info("KV cache on the GPU: {} blocks of {} positions, {} MB per GPU ({} B a position; {} MB of {} MB free after "
                        + "the weights)", blocks, props.kvBlockSize(), ((long) blocks * props.kvBlockSize() * perPosition) >> 20,
                perPosition, memory[0] >> 20, memory[1] >> 20);
        return new RuntimeConfig(props.maxRunning(), props.maxWaiting(), props.maxTokensPerStep(), props.kvBlockSize(),
                blocks, props.prefixCaching(), RuntimeConfig.Policy.IN_FLIGHT);
    }

    /** A short greedy generation through the runtime; the chat template is rendered once as well. */
    private void warmUp(Loaded l) throws Exception {
        if (l.chatTemplate() != null) {
            try {
                l.chatTemplate().render(List.of(new ChatMessage("system", "warm-up"), new ChatMessage("user", "warm-up")), true);
            } catch (RuntimeException e) {
                log.warn("The chat template does not render a system + user conversation: {}", e.getMessage());
            }
        }
        int[] prompt = l.engine().encodePrompt("warm-up", Engine.BosPolicy.AUTO);
        if (prompt.length == 0) {
            prompt = new int[] {0};
        }
        var handle = l.runtime().submit(GenerationRequest.of(prompt, SamplingParams.GREEDY,
                StopConditions.maxTokens(4, Set.of())), null);
        GenerationEvent.Finished f = handle.completion().get(props.warmupTimeout().toMillis(), TimeUnit.MILLISECONDS);
        if (f.reason() == FinishReason.ERROR || f.completionTokens() < 1) {
            throw new IllegalStateException("the warm-up generation failed: " + f.error());
        }
    }

    private static String architecture(Path path) {
        try {
            Path config = Files.isDirectory(path) ? path.resolve("config.json") : null;
            return config != null && Files.isRegularFile(config) ? ModelConfig.read(config).modelType() : "unknown";
        } catch (RuntimeException e) {
            return "unknown";
        }
    }

    private static String dtype(Engine engine) {
        try {
            return engine.weightFormat();
        } catch (RuntimeException e) {
            return "unknown";
        }
    }

    /** The runtime, then a GPU runner (the engine's own runner closes with the engine), then the engine. */
    private static void close(EngineRuntime runtime, ModelRunner runner, Engine engine) {
        try {
            if (runtime != null) {
                runtime.close();
            }
            if (runner != null && engine != null && runner != engine.runner()) {
                runner.close();
            }
            if (engine != null) {
                engine.close();
            }
        } catch (Exception e) {
            log.warn("Closing the model failed: {}", e.toString());
        }
    }

    @Override
    public void stop() {
        State was = state;
        state = State.STOPPED;
        Loaded l = loaded;
        loaded = null;
        if (l != null && was == State.BROKEN) {
            // A runner whose NCCL group was aborted may not close cleanly (a rank thread stuck in the driver): give it
            // a while on a thread of its own, then let the process exit anyway.
            Thread closer = Thread.ofPlatform().name("model-closer").daemon()
                    .start(() -> close(l.runtime(), l.runner(), l.engine()));
            try {
                closer.join(BROKEN_CLOSE_TIMEOUT.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (closer.isAlive()) {
                log.warn("Model '{}' did not close within {} after its runner failed; exiting without it", servedName,
                        BROKEN_CLOSE_TIMEOUT);
            }
        } else if (l != null) {
            // Requests still running finish as cancelled; their streams end with an error event.
            close(l.runtime(), l.runner(), l.engine());
            log.info("Model '{}' unloaded", servedName);
        } else if (was == State.LOADING) {
            log.info("Stopping while model '{}' is still loading", servedName);
        }
    }

    @Override
    public boolean isRunning() {
        return state == State.LOADING || state == State.READY || state == State.BROKEN;
    }

    /** Stops after the web server has drained (graceful shutdown runs at a higher phase). */
    @Override
    public int getPhase() {
        return SmartLifecycle.DEFAULT_PHASE - 4096;
    }
}
