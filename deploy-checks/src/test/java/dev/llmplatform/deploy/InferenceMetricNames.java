package dev.llmplatform.deploy;

import java.util.LinkedHashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Prometheus series inference-service exports, read from where it registers its meters (InferenceMetrics), named
 * as Micrometer's Prometheus registry names them: dots become underscores, counters get {@code _total}, timers
 * {@code _seconds_bucket}, {@code _seconds_count}, {@code _seconds_sum} and {@code _seconds_max}.
 */
final class InferenceMetricNames {
    private static final String SOURCE = "inference-service/src/main/java/dev/llmplatform/inference/metrics/InferenceMetrics.java";
    private static final Pattern METER = Pattern.compile(
            "\\b(timer|counter|gauge|Timer\\.builder|Counter\\.builder|FunctionCounter\\.builder|Gauge\\.builder)\\(\"(llm\\.[a-z0-9_.]+)\"");

    private InferenceMetricNames() {
    }

    static Set<String> prometheusNames() {
        Set<String> names = new LinkedHashSet<>();
        Matcher m = METER.matcher(Repo.read(SOURCE));
        while (m.find()) {
            String base = m.group(2).replace('.', '_');
            switch (m.group(1)) {
                case "timer", "Timer.builder" -> {
                    for (String suffix : new String[] {"_bucket", "_count", "_sum", "_max"}) {
                        names.add(base + "_seconds" + suffix);
                    }
                }
                case "counter", "Counter.builder", "FunctionCounter.builder" -> names.add(base + "_total");
                default -> names.add(base);
            }
        }
        if (names.isEmpty()) {
            throw new IllegalStateException("no meters found in " + SOURCE + ": has it moved?");
        }
        return names;
    }
}
