package dev.llmplatform.registry.rollout;

import dev.llmplatform.registry.problem.Conflict;
import dev.llmplatform.registry.problem.NotFound;
import dev.llmplatform.registry.store.RolloutStore;
import dev.llmplatform.registry.store.Timestamps;
import dev.llmplatform.registry.store.VersionStore;
import java.time.Clock;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Map;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.dao.TransientDataAccessException;
import org.springframework.stereotype.Service;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Applies rollout transitions with optimistic concurrency: read the current state, check the caller's expected
 * revision (If-Match), compute the next state, write it only if the stored revision is unchanged, append the audit
 * entry, and announce the change once the transaction commits. A writer that loses a race gets a
 * {@code revision-conflict} (409) carrying the current state, and nothing of its change is stored.
 */
@Service
public class RolloutService {
    private final RolloutStore rollouts;
    private final VersionStore versions;
    private final TransactionTemplate tx;
    private final Clock clock;
    private final ApplicationEventPublisher events;

    public RolloutService(RolloutStore rollouts, VersionStore versions, TransactionTemplate tx, Clock clock,
                          ApplicationEventPublisher events) {
        this.rollouts = rollouts;
        this.versions = versions;
        this.tx = tx;
        this.clock = clock;
        this.events = events;
    }

    public Rollout current(String model) {
        return rollouts.find(model).orElseGet(() -> {
            requireModel(model);
            return Rollout.initial(model);
        });
    }

    public List<Rollout> all() {
        return rollouts.all();
    }

    public Rollout startCanary(String model, int version, Integer percent, Long expectedRevision, String actor) {
        return change(model, expectedRevision, RolloutAction.START_CANARY, (r, at) -> {
            if (versions.version(model, version).isEmpty()) {
                throw new NotFound(model + " has no version " + version);
            }
            return r.startCanary(version, percent, at, actor);
        });
    }

    public Rollout setCanaryPercent(String model, int percent, Long expectedRevision, String actor) {
        return change(model, expectedRevision, RolloutAction.SET_PERCENT, (r, at) -> r.setCanaryPercent(percent, at, actor));
    }

    public Rollout promote(String model, Long expectedRevision, String actor) {
        return change(model, expectedRevision, RolloutAction.PROMOTE, (r, at) -> r.promote(at, actor));
    }

    public Rollout rollback(String model, Long expectedRevision, String actor) {
        return change(model, expectedRevision, RolloutAction.ROLLBACK, (r, at) -> r.rollback(at, actor));
    }

    private interface Transition {
        Rollout apply(Rollout current, OffsetDateTime at);
    }

    /** Thrown inside the transaction to roll it back; turned into a 409 with the current state outside it. */
    private static final class LostRace extends RuntimeException {
        final String why;

        LostRace(String why) {
            super(why, null, false, false);
            this.why = why;
        }
    }

    private Rollout change(String model, Long expectedRevision, RolloutAction action, Transition transition) {
        try {
            return tx.execute(status -> {
                Rollout current = current(model);
                if (expectedRevision != null && expectedRevision != current.revision()) {
                    throw new LostRace("expected revision " + expectedRevision + " (If-Match) but the rollout is at revision "
                            + current.revision());
                }
                Rollout next = transition.apply(current, Timestamps.now(clock));
                if (!rollouts.compareAndSet(current.revision(), next)) {
                    throw new LostRace("another change was written after revision " + current.revision() + " was read");
                }
                RolloutChange change = rollouts.append(new RolloutChange(0, model, next.revision(), action, next.updatedBy(),
                        next.updatedAt(), RolloutChange.State.of(current), RolloutChange.State.of(next)));
                events.publishEvent(change);
                return next;
            });
        } catch (LostRace e) {
            throw conflict(model, e.why);
        } catch (DuplicateKeyException | TransientDataAccessException e) {
            // The database noticed the race first (two first writers inserting, or H2 refusing a concurrent update).
            throw conflict(model, "another change was written concurrently");
        }
    }

    private Conflict conflict(String model, String why) {
        // Read again outside the rolled-back transaction (PostgreSQL refuses reads in an aborted one).
        Rollout now = current(model);
        return new Conflict("revision-conflict", model + ": " + why + "; read the rollout again and retry", Map.of("current", now));
    }

    private void requireModel(String model) {
        if (versions.model(model).isEmpty()) {
            throw new NotFound("no model named '" + model + "'");
        }
    }
}
