package dev.llmplatform.inference.ops;

import dev.llmplatform.inference.engine.ServedModel;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.stereotype.Component;

/**
 * {@code model} in {@code /actuator/health}: UP once the model is loaded and its warm-up generation succeeded;
 * OUT_OF_SERVICE while it loads, DOWN when loading failed or when the loaded model can no longer run (a GPU rank
 * failed and its all-reduce group was aborted), with the reason. The readiness group includes it, so
 * {@code /actuator/health/readiness} is UP only when requests can be served.
 */
@Component("model")
public class ModelHealthIndicator implements HealthIndicator {
    private final ServedModel model;

    public ModelHealthIndicator(ServedModel model) {
        this.model = model;
    }

    @Override
    public Health health() {
        Health.Builder b = switch (model.state()) {
            case READY -> Health.up();
            case FAILED, BROKEN -> Health.down().withDetail("error", model.failure());
            default -> Health.outOfService();
        };
        b.withDetail("model", model.name()).withDetail("state", model.state().name().toLowerCase());
        ServedModel.Loaded l = model.loaded();
        if (l != null) {
            var s = l.runtime().stats();
            b.withDetail("running", s.running()).withDetail("waiting", s.waiting())
                    .withDetail("kvCacheUsage", Math.round(s.kvUsage() * 1000) / 1000.0);
        }
        return b.build();
    }
}
