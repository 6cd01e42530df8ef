package dev.llmplatform.registry.rollout;

import dev.llmplatform.registry.problem.Conflict;
import dev.llmplatform.registry.problem.InvalidRequest;
import java.time.OffsetDateTime;

/**
 * Which versions serve a model, and the only moves between such states. Immutable: each transition returns the next
 * state (revision + 1) or refuses with a {@code illegal-transition} conflict naming why.
 *
 * <pre>
 *   no stable, no canary --start(v, 100%)--> canary v at 100% --promote--> stable v
 *   stable s             --start(v, p%)----> stable s + canary v at p%
 *   stable s + canary v  --percent(q)------> stable s + canary v at q%
 *                        --promote---------> stable v
 *                        --rollback--------> stable s
 * </pre>
 *
 * @param model         the model's name
 * @param stableVersion the version taking the traffic the canary does not (null before the first promotion)
 * @param canaryVersion the version on trial (null when none)
 * @param canaryPercent the canary's share of requests, 0..100 (0 when there is no canary)
 * @param revision      0 for a model never rolled out; +1 with every change
 * @param updatedAt     when the last change happened (null at revision 0)
 * @param updatedBy     who made it (the token's name)
 */
public record Rollout(String model, Integer stableVersion, Integer canaryVersion, int canaryPercent, long revision,
                      OffsetDateTime updatedAt, String updatedBy) {

    public static Rollout initial(String model) {
        return new Rollout(model, null, null, 0, 0, null, null);
    }

    /** Starts a canary. Without a stable version there is nothing to share traffic with, so the canary takes 100%. */
    public Rollout startCanary(int version, Integer percent, OffsetDateTime at, String actor) {
        if (canaryVersion != null) {
            throw illegal("canary version " + canaryVersion + " is already running; promote it or roll it back first");
        }
        if (stableVersion != null && stableVersion == version) {
            throw illegal("version " + version + " is already the stable version");
        }
        int p;
        if (stableVersion == null) {
            if (percent != null && percent != 100) {
                throw illegal("there is no stable version yet, so the first canary takes 100% of traffic (asked for " + percent + "%)");
            }
            p = 100;
        } else {
            if (percent == null) {
                throw new InvalidRequest("invalid-percent", "percent is required when a stable version shares the traffic");
            }
            p = checkPercent(percent);
        }
        return next(stableVersion, version, p, at, actor);
    }

    public Rollout setCanaryPercent(int percent, OffsetDateTime at, String actor) {
        if (canaryVersion == null) {
            throw illegal("there is no canary to set a percentage for; start one first");
        }
        if (stableVersion == null && percent != 100) {
            throw illegal("there is no stable version yet, so the canary keeps 100% of traffic");
        }
        return next(stableVersion, canaryVersion, checkPercent(percent), at, actor);
    }

    public Rollout promote(OffsetDateTime at, String actor) {
        if (canaryVersion == null) {
            throw illegal("there is no canary to promote");
        }
        return next(canaryVersion, null, 0, at, actor);
    }

    public Rollout rollback(OffsetDateTime at, String actor) {
        if (canaryVersion == null) {
            throw illegal("there is no canary to roll back");
        }
        return next(stableVersion, null, 0, at, actor);
    }

    private Rollout next(Integer stable, Integer canary, int percent, OffsetDateTime at, String actor) {
        return new Rollout(model, stable, canary, percent, revision + 1, at, actor);
    }

    private static int checkPercent(int percent) {
        if (percent < 0 || percent > 100) {
            throw new InvalidRequest("invalid-percent", "percent must be 0..100, got " + percent);
        }
        return percent;
    }

    private Conflict illegal(String why) {
        return new Conflict("illegal-transition", model + ": " + why);
    }
}
