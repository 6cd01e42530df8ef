package dev.llmplatform.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** The Grafana provisioning and dashboard under deploy/grafana, against the metrics the services export. */
class MonitoringFilesTest {
    private static final Pattern LLM_SERIES = Pattern.compile("\\bllm_[a-z0-9_]+");

    private static JsonNode dashboard() {
        return Repo.yaml(Repo.read("deploy/grafana/dashboards/llm-inference.json"));
    }

    @Test
    void chartsOnlySeriesThatInferenceServiceExports() {
        Set<String> exported = InferenceMetricNames.prometheusNames();
        Set<String> used = new LinkedHashSet<>();
        List<String> problems = new ArrayList<>();
        for (JsonNode panel : dashboard().get("panels")) {
            for (JsonNode target : panel.path("targets")) {
                Matcher m = LLM_SERIES.matcher(target.path("expr").asString());
                while (m.find()) {
                    used.add(m.group());
                    if (!exported.contains(m.group())) {
                        problems.add(panel.get("title").asString() + ": " + m.group());
                    }
                }
            }
        }
        assertThat(problems).as("series the dashboard queries that inference-service does not export (it exports %s)",
                exported).isEmpty();
        assertThat(used).as("the dashboard shows latency, throughput and load")
                .contains("llm_time_to_first_token_seconds_bucket", "llm_generation_tokens_total", "llm_num_requests_waiting",
                        "llm_kv_cache_usage_ratio", "llm_requests_total");
    }

    @Test
    void queriesTheProvisionedDatasource() {
        JsonNode datasources = Repo.yamlFile("deploy/grafana/provisioning/datasources/prometheus.yml").get("datasources");
        Set<String> uids = new LinkedHashSet<>();
        datasources.forEach(d -> uids.add(d.get("uid").asString()));
        List<String> referenced = new ArrayList<>();
        for (JsonNode panel : dashboard().get("panels")) {
            referenced.add(panel.path("datasource").path("uid").asString());
            panel.path("targets").forEach(t -> referenced.add(t.path("datasource").path("uid").asString()));
        }
        assertThat(referenced).as("datasource uids in the dashboard").isNotEmpty().allMatch(uids::contains);
    }

    @Test
    void loadsDashboardsFromWhereComposeMountsThem() {
        String path = Repo.yamlFile("deploy/grafana/provisioning/dashboards/llm.yml").get("providers").get(0)
                .get("options").get("path").asString();
        assertThat(Repo.read("docker-compose.yml")).as("docker-compose.yml mounts deploy/grafana/dashboards at %s", path)
                .contains("./deploy/grafana/dashboards:" + path + ":ro");
    }
}
