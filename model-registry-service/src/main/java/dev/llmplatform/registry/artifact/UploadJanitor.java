package dev.llmplatform.registry.artifact;

import dev.llmplatform.registry.store.Timestamps;
import dev.llmplatform.registry.store.UploadRecord;
import dev.llmplatform.registry.store.UploadStore;
import java.time.Clock;
import java.time.OffsetDateTime;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Deletes uploads nobody finished: those open past their expiry ({@code llm.registry.uploads.ttl}), and aborted
 * ones whose bytes could not be deleted at the time. This is what guarantees that an interrupted push leaves
 * neither metadata nor bytes behind.
 */
@Component
public class UploadJanitor {
    private static final Logger log = LoggerFactory.getLogger(UploadJanitor.class);

    private final UploadStore uploads;
    private final UploadService service;
    private final TransactionTemplate tx;
    private final Clock clock;

    public UploadJanitor(UploadStore uploads, UploadService service, TransactionTemplate tx, Clock clock) {
        this.uploads = uploads;
        this.service = service;
        this.tx = tx;
        this.clock = clock;
    }

    @Scheduled(fixedDelayString = "${llm.registry.uploads.sweep-interval:5m}",
            initialDelayString = "${llm.registry.uploads.sweep-interval:5m}")
    public void sweepNow() {
        sweep(Timestamps.now(clock));
    }

    /** Expires open uploads older than {@code now}, then deletes every aborted upload; returns how many were deleted. */
    public int sweep(OffsetDateTime now) {
        List<String> expired = tx.execute(s -> uploads.expireOpen(now));
        if (expired != null && !expired.isEmpty()) {
            log.info("expired {} abandoned upload(s): {}", expired.size(), expired);
        }
        int deleted = 0;
        for (UploadRecord u : uploads.aborted()) {
            if (service.discard(u)) {
                deleted++;
            }
        }
        return deleted;
    }
}
