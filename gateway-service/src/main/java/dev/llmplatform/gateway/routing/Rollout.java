package dev.llmplatform.gateway.routing;

/**
 * The registry's rollout of one model, as far as routing cares.
 *
 * @param model         the model's name
 * @param stableVersion the version taking the traffic the canary does not (null before the first promotion)
 * @param canaryVersion the version on trial (null when none)
 * @param canaryPercent the canary's share of requests, 0..100
 * @param revision      the registry's revision of this rollout (older updates are ignored)
 */
public record Rollout(String model, Integer stableVersion, Integer canaryVersion, int canaryPercent, long revision) {
}
