package dev.llmplatform.registry.rollout;

import dev.llmplatform.registry.config.RegistryProperties;
import dev.llmplatform.registry.store.RolloutStore;
import java.io.IOException;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.http.MediaType;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;
import org.springframework.transaction.event.TransactionalEventListener;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;

/**
 * The server-sent event stream of rollout changes. Each committed change goes to every watcher as an event named
 * {@code rollout} whose id is the audit log id; a watcher that reconnects with {@code Last-Event-ID} first gets
 * what it missed, replayed from the audit log, so following the stream loses nothing.
 *
 * <p>Live events come from this instance's own commits. With several registry instances behind one database a
 * watcher sees other instances' changes only on reconnect (replay); run one instance, or reconnect periodically.
 */
@Component
public class RolloutEvents implements SmartLifecycle {
    private static final Logger log = LoggerFactory.getLogger(RolloutEvents.class);
    private static final int REPLAY_PAGE = 1000;

    private final RolloutStore store;
    private final RegistryProperties.Events settings;
    private final Set<Watcher> watchers = ConcurrentHashMap.newKeySet();
    private volatile boolean running;

    public RolloutEvents(RolloutStore store, RegistryProperties properties) {
        this.store = store;
        this.settings = properties.events();
    }

    /** Opens a stream for one model (or all, when {@code model} is null), replaying changes after {@code lastEventId}. */
    public SseEmitter watch(String model, Long lastEventId) {
        SseEmitter emitter = new SseEmitter(settings.timeout().toMillis());
        Watcher w = new Watcher(emitter, model);
        emitter.onCompletion(() -> watchers.remove(w));
        emitter.onTimeout(() -> watchers.remove(w));
        emitter.onError(e -> watchers.remove(w));
        // Registered before the replay so nothing committed in between is missed; the replayed ids are remembered
        // so a change that arrives both ways is sent once.
        watchers.add(w);
        synchronized (w) {
            try {
                w.comment("watching rollout changes" + (model == null ? "" : " of " + model));
                if (lastEventId != null) {
                    for (long after = lastEventId; ; ) {
                        List<RolloutChange> page = store.changesAfter(after, model, REPLAY_PAGE);
                        for (RolloutChange c : page) {
                            w.replayed.add(c.id());
                            w.sendNow(c);
                        }
                        if (page.size() < REPLAY_PAGE) {
                            break;
                        }
                        after = page.getLast().id();
                    }
                }
            } catch (IOException e) {
                drop(w, e);
            }
        }
        return emitter;
    }

    @TransactionalEventListener
    public void onCommitted(RolloutChange change) {
        for (Watcher w : watchers) {
            synchronized (w) {
                if (w.wants(change)) {
                    try {
                        w.sendNow(change);
                    } catch (IOException | IllegalStateException e) {
                        drop(w, e);
                    }
                }
            }
        }
    }

    /** A comment line now and then keeps idle connections open through proxies and reveals departed watchers. */
    @Scheduled(fixedDelayString = "${llm.registry.events.heartbeat-interval:15s}")
    public void heartbeat() {
        for (Watcher w : watchers) {
            synchronized (w) {
                try {
                    w.comment("heartbeat");
                } catch (IOException | IllegalStateException e) {
                    drop(w, e);
                }
            }
        }
    }

    @Override
    public void start() {
        running = true;
    }

    /**
     * Ends every stream when the application stops, before the web server's graceful shutdown (this lifecycle's
     * phase is later, so it stops first), which would otherwise wait its whole timeout for streams that never end.
     * Watchers reconnect, with Last-Event-ID, to another instance or to this one restarted.
     */
    @Override
    public void stop() {
        running = false;
        for (Watcher w : watchers) {
            synchronized (w) {
                w.emitter.complete();
            }
        }
        watchers.clear();
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    public int watcherCount() {
        return watchers.size();
    }

    private void drop(Watcher w, Exception e) {
        watchers.remove(w);
        log.debug("dropping a rollout watcher: {}", e.toString());
        w.emitter.completeWithError(e);
    }

    private static final class Watcher {
        final SseEmitter emitter;
        final String model;
        final Set<Long> replayed = new HashSet<>();

        Watcher(SseEmitter emitter, String model) {
            this.emitter = emitter;
            this.model = model;
        }

        boolean wants(RolloutChange c) {
            return (model == null || model.equals(c.model())) && !replayed.remove(c.id());
        }

        void sendNow(RolloutChange c) throws IOException {
            emitter.send(SseEmitter.event().id(Long.toString(c.id())).name("rollout").data(c, MediaType.APPLICATION_JSON));
        }

        void comment(String text) throws IOException {
            emitter.send(SseEmitter.event().comment(text));
        }
    }
}
