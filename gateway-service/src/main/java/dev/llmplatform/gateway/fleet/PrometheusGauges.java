package dev.llmplatform.gateway.fleet;

import java.util.Map;

/** Reads a few gauges out of Prometheus' text exposition format (one sample per line: name, labels, value). */
final class PrometheusGauges {
    private PrometheusGauges() {
    }

    /** The value of each wanted metric (summed over its label sets); absent ones are missing from the map. */
    static Map<String, Double> read(String text, java.util.Set<String> wanted) {
        Map<String, Double> values = new java.util.HashMap<>();
        for (String line : text.split("\n")) {
            if (line.isEmpty() || line.charAt(0) == '#') {
                continue;
            }
            int nameEnd = 0;
            while (nameEnd < line.length() && line.charAt(nameEnd) != '{' && line.charAt(nameEnd) != ' ') {
                nameEnd++;
            }
            String name = line.substring(0, nameEnd);
            if (!wanted.contains(name)) {
                continue;
            }
            int valueStart = line.charAt(nameEnd) == '{' ? line.indexOf("} ", nameEnd) + 2 : nameEnd + 1;
            if (valueStart < 2) {
                continue;
            }
            int valueEnd = line.indexOf(' ', valueStart);
            try {
                double v = Double.parseDouble(valueEnd < 0 ? line.substring(valueStart) : line.substring(valueStart, valueEnd));
                values.merge(name, v, Double::sum);
            } catch (NumberFormatException e) {
                // not a sample line we understand: skip it
            }
        }
        return values;
    }
}
