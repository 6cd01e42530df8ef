package dev.llmplatform.gateway.fleet;

/**
 * What an instance said about itself at its last poll.
 *
 * @param model           the served model's name ({@code /actuator/info} {@code model.name})
 * @param registryVersion the registry version it serves, when it was pulled from the registry; null otherwise
 * @param waiting         requests queued, not yet scheduled ({@code llm_num_requests_waiting})
 * @param running         requests in the running batch ({@code llm_num_requests_running})
 * @param kvCacheUsage    fraction of KV cache blocks in use, 0..1 ({@code llm_kv_cache_usage_ratio})
 */
public record InstanceReport(String model, Integer registryVersion, double waiting, double running,
                             double kvCacheUsage) {
}
