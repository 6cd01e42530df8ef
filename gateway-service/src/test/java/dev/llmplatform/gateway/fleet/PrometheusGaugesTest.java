package dev.llmplatform.gateway.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PrometheusGaugesTest {

    @Test
    void readsTheWantedSamplesAndSumsLabelSets() {
        String text = """
                # HELP llm_num_requests_waiting Requests waiting
                # TYPE llm_num_requests_waiting gauge
                llm_num_requests_waiting{model="kjv-demo"} 3.0
                llm_num_requests_running{model="kjv-demo"} 5.0
                llm_num_requests_running_other{model="kjv-demo"} 99.0
                llm_kv_cache_usage_ratio{model="a"} 0.25
                llm_kv_cache_usage_ratio{model="b"} 0.5
                jvm_threads_live_threads 40.0
                """;
        Map<String, Double> g = PrometheusGauges.read(text, Set.of("llm_num_requests_waiting",
                "llm_num_requests_running", "llm_kv_cache_usage_ratio"));
        assertThat(g).containsEntry("llm_num_requests_waiting", 3.0).containsEntry("llm_num_requests_running", 5.0)
                .containsEntry("llm_kv_cache_usage_ratio", 0.75).hasSize(3);
    }
}
