package dev.llmplatform.inference.ops;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llmplatform.inference.ServiceTestBase;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;

/** Health probes, info and the Prometheus metrics the gateway and dashboards read. */
class ActuatorTest extends ServiceTestBase {

    @Test
    void probesAreUpOnceTheModelIsWarm() {
        web.get().uri("/actuator/health/liveness").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.status").isEqualTo("UP");
        web.get().uri("/actuator/health/readiness").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.status").isEqualTo("UP")
                .jsonPath("$.components.model.status").isEqualTo("UP")
                .jsonPath("$.components.model.details.state").isEqualTo("ready");
    }

    @Test
    void infoDescribesTheModelAndItsKvCache() {
        web.get().uri("/actuator/info").exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.model.name").isEqualTo("kjv-demo")
                .jsonPath("$.model.architecture").isEqualTo("llama")
                .jsonPath("$.model.dtype").isEqualTo("bf16")
                .jsonPath("$.model.contextLength").isEqualTo(1024)
                .jsonPath("$.model.kvCache.blocks").isNumber()
                .jsonPath("$.model.kvCache.tokens").isNumber()
                .jsonPath("$.model.kvCache.bytes").isNumber()
                .jsonPath("$.runtime.maxRunning").isEqualTo(16);
    }

    @Test
    void prometheusHasTheServingMetrics() {
        web.post().uri("/v1/completions").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"kjv-demo\",\"prompt\":\"In the beginning\",\"max_tokens\":4}")
                .exchange().expectStatus().isOk();
        web.post().uri("/v1/completions").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"model\":\"kjv-demo\",\"prompt\":\"x\",\"top_p\":9}")
                .exchange().expectStatus().isBadRequest();
        String text = web.get().uri("/actuator/prometheus").exchange().expectStatus().isOk()
                .expectBody(String.class).returnResult().getResponseBody();
        assertThat(text).contains(
                "llm_requests_total{endpoint=\"completions\",model=\"kjv-demo\",outcome=\"length\"}",
                "llm_requests_total{endpoint=\"completions\",model=\"kjv-demo\",outcome=\"bad_request\"}",
                "llm_time_to_first_token_seconds_bucket",
                "llm_inter_token_latency_seconds_bucket",
                "llm_e2e_request_latency_seconds_bucket",
                "llm_request_queue_time_seconds_bucket",
                "llm_prompt_tokens_total{model=\"kjv-demo\"}",
                "llm_generation_tokens_total{model=\"kjv-demo\"}",
                "llm_num_requests_running{model=\"kjv-demo\"}",
                "llm_num_requests_waiting{model=\"kjv-demo\"}",
                "llm_kv_cache_usage_ratio{model=\"kjv-demo\"}",
                "llm_kv_cache_blocks{model=\"kjv-demo\",state=\"total\"}",
                "llm_prefix_cache_hit_ratio{model=\"kjv-demo\"}",
                "llm_preemptions_total{model=\"kjv-demo\"}",
                "llm_batch_size{model=\"kjv-demo\"}",
                "llm_model_ready{model=\"kjv-demo\"} 1.0");
    }
}
