package dev.llmplatform.admin.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.llmplatform.admin.metrics.PrometheusText.Sample;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PrometheusTextTest {
    private static final String SCRAPE = """
            # HELP llm_requests_total Requests by endpoint and outcome
            # TYPE llm_requests_total counter
            llm_requests_total{endpoint="chat_completions",model="kjv-demo",outcome="stop"} 3.0
            llm_requests_total{endpoint="completions",model="kjv-demo",outcome="length"} 1.0
            # TYPE llm_time_to_first_token_seconds histogram
            llm_time_to_first_token_seconds_bucket{model="kjv-demo",le="0.05"} 2
            llm_time_to_first_token_seconds_bucket{model="kjv-demo",le="+Inf"} 4
            llm_time_to_first_token_seconds_count{model="kjv-demo"} 4
            llm_time_to_first_token_seconds_sum{model="kjv-demo"} 0.25
            llm_model_ready 1 1764096000000
            jvm_threads_live_threads 42.0
            process_odd{path="C:\\\\x \\"quoted\\", and\\nnewline",empty=""} NaN
            """;

    @Test
    void keepsTheWantedSeriesWithLabelsAndValuesInOrder() {
        List<Sample> samples = PrometheusText.parse(SCRAPE, name -> name.startsWith("llm_") && !name.endsWith("_bucket"));

        assertThat(samples).containsExactly(
                new Sample("llm_requests_total", Map.of("endpoint", "chat_completions", "model", "kjv-demo", "outcome", "stop"), 3.0),
                new Sample("llm_requests_total", Map.of("endpoint", "completions", "model", "kjv-demo", "outcome", "length"), 1.0),
                new Sample("llm_time_to_first_token_seconds_count", Map.of("model", "kjv-demo"), 4),
                new Sample("llm_time_to_first_token_seconds_sum", Map.of("model", "kjv-demo"), 0.25),
                new Sample("llm_model_ready", Map.of(), 1));
        assertThat(samples.getFirst().labels().keySet()).containsExactly("endpoint", "model", "outcome");
    }

    @Test
    void unescapesLabelValuesAndReadsSpecialValues() {
        List<Sample> samples = PrometheusText.parse(SCRAPE, name -> name.equals("process_odd")
                || name.equals("llm_time_to_first_token_seconds_bucket"));

        assertThat(samples).hasSize(3);
        assertThat(samples.get(1).labels()).containsEntry("le", "+Inf");
        assertThat(samples.get(2).labels()).containsExactly(
                Map.entry("path", "C:\\x \"quoted\", and\nnewline"), Map.entry("empty", ""));
        assertThat(samples.get(2).value()).isNaN();
    }

    @Test
    void namesTheLineOfAMalformedSample() {
        assertThatThrownBy(() -> PrometheusText.parse("llm_ok 1\nllm_bad{model=\"x\" 2\n", name -> true))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("line 2")
                .hasMessageContaining("llm_bad");
        assertThatThrownBy(() -> PrometheusText.parse("llm_x{model=\"x\"} twelve\n", name -> true))
                .hasMessageContaining("'twelve' is not a number");
        assertThatThrownBy(() -> PrometheusText.parse("{model=\"x\"} 1\n", name -> true))
                .hasMessageContaining("no metric name");
    }

    @Test
    void skipsUnwantedLinesWithoutReadingThem() {
        // A series the view does not show cannot break it, however it is written.
        assertThat(PrometheusText.parse("other{broken 1\nllm_y 2\n", name -> name.startsWith("llm_")))
                .containsExactly(new Sample("llm_y", Map.of(), 2));
    }
}
