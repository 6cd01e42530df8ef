package dev.llmplatform.registry.api;

import dev.llmplatform.registry.artifact.DownloadService;
import dev.llmplatform.registry.problem.InvalidRequest;
import dev.llmplatform.registry.rollout.RolloutEvents;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.tags.Tag;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;

/** The server-sent event stream of rollout changes, for the gateway and inference services to follow. */
@RestController
@Tag(name = "rollouts")
class RolloutEventsController {
    private final RolloutEvents events;
    private final DownloadService downloads;

    RolloutEventsController(RolloutEvents events, DownloadService downloads) {
        this.events = events;
        this.downloads = downloads;
    }

    @GetMapping(value = "/v1/registry/rollouts/events", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
    @Operation(summary = "Follow rollout changes (server-sent events named 'rollout'; data is one audit log entry)",
            description = "Reconnect with Last-Event-ID (or ?after=) to get what was missed. List /v1/registry/rollouts "
                    + "first and pass its last_event_id to miss nothing between list and watch.")
    SseEmitter watch(@Parameter(description = "only this model's changes") @RequestParam(required = false) String model,
                     @Parameter(description = "replay changes after this event id") @RequestParam(required = false) Long after,
                     @RequestHeader(value = "Last-Event-ID", required = false) String lastEventId) {
        if (model != null) {
            downloads.model(model);
        }
        Long from = after;
        if (lastEventId != null && !lastEventId.isBlank()) {
            try {
                from = Long.parseLong(lastEventId.strip());
            } catch (NumberFormatException e) {
                throw new InvalidRequest("invalid-last-event-id", "Last-Event-ID must be an event id (a number), got " + lastEventId);
            }
        }
        return events.watch(model, from);
    }
}
