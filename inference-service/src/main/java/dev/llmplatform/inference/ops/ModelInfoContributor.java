package dev.llmplatform.inference.ops;

import dev.llmplatform.inference.config.InferenceProperties;
import dev.llmplatform.inference.engine.ModelDescription;
import dev.llmplatform.inference.engine.ServedModel;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.actuate.info.Info;
import org.springframework.boot.actuate.info.InfoContributor;
import org.springframework.stereotype.Component;

/**
 * {@code model} and {@code runtime} in {@code /actuator/info}: what is served (name, source, architecture, dtype,
 * context length, vocabulary) and the KV cache's capacity and the scheduler's limits.
 */
@Component
public class ModelInfoContributor implements InfoContributor {
    private final ServedModel model;
    private final InferenceProperties props;

    public ModelInfoContributor(ServedModel model, InferenceProperties props) {
        this.model = model;
        this.props = props;
    }

    @Override
    public void contribute(Info.Builder builder) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", model.name());
        m.put("state", model.state().name().toLowerCase());
        ServedModel.Loaded l = model.loaded();
        if (l != null) {
            ModelDescription d = l.description();
            m.put("source", d.source());
            if (d.registry() != null) {
                // Structured, for the gateway: it routes canary traffic by the registry version an instance serves.
                m.put("registry", Map.of("url", d.registry().url(), "model", d.registry().model(),
                        "version", d.registry().version()));
            }
            m.put("architecture", d.architecture());
            m.put("dtype", d.dtype());
            m.put("contextLength", d.contextLength());
            m.put("vocabSize", d.vocabSize());
            m.put("chatTemplate", d.hasChatTemplate());
            Map<String, Object> kv = new LinkedHashMap<>();
            kv.put("blocks", d.kvCacheBlocks());
            kv.put("blockSize", d.kvBlockSize());
            kv.put("tokens", d.kvCacheTokens());
            kv.put("bytes", d.kvCacheBytes());
            kv.put("bytesPerToken", d.kvBytesPerPosition());
            m.put("kvCache", kv);
        } else if (model.failure() != null) {
            m.put("error", model.failure());
        }
        builder.withDetail("model", m);
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("backend", props.backend().name().toLowerCase());
        r.put("tensorParallelSize", props.tensorParallelSize());
        if (props.backend() == InferenceProperties.Backend.CUDA && props.tensorParallelSize() > 1) {
            r.put("cudaDevices", props.rankDevices());
        }
        r.put("threads", ServedModel.engineThreads(props.threads()));
        r.put("maxRunning", props.maxRunning());
        r.put("maxWaiting", props.maxWaiting());
        r.put("maxTokensPerStep", props.maxTokensPerStep());
        r.put("prefixCaching", props.prefixCaching());
        builder.withDetail("runtime", r);
    }
}
