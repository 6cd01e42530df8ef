package dev.llmplatform.registry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.llmplatform.registry.support.Http;
import dev.llmplatform.registry.support.TestArtifacts;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/** The rollout state machine over HTTP: legal moves, refused moves, revisions, the audit log and the event stream. */
class RolloutApiTest extends RegistryTestBase {
    @TempDir
    Path tmp;

    private String modelWithVersions(int n) throws Exception {
        String model = TestArtifacts.uniqueModel("rollout");
        for (int i = 0; i < n; i++) {
            Path dir = TestArtifacts.directory(tmp.resolve(model + i), i, Map.of("w.bin", 100 + i));
            client().push(dir, model, TestArtifacts.manifest(dir));
        }
        return model;
    }

    private Http.Response act(String model, String action, String body, String... headers) {
        return admin().post("/v1/registry/models/" + model + "/rollout/" + action, body, headers);
    }

    @Test
    void shouldWalkFromFirstCanaryThroughPromotionToASecondCanaryAndRollBack() throws Exception {
        String model = modelWithVersions(2);
        Http.Response initial = reader().get("/v1/registry/models/" + model + "/rollout");
        assertThat(initial.json().get("revision").asLong()).isZero();
        assertThat(initial.header("ETag")).isEqualTo("\"0\"");

        JsonNode first = act(model, "canary", "{\"version\": 1}").json();
        assertThat(first.get("canary_version").asInt()).isEqualTo(1);
        assertThat(first.get("canary_percent").asInt()).as("no stable version: the canary takes everything").isEqualTo(100);
        JsonNode promoted = act(model, "promote", null, "If-Match", "\"1\"").json();
        assertThat(promoted.get("stable_version").asInt()).isEqualTo(1);
        assertThat(promoted.has("canary_version")).isFalse();

        assertThat(act(model, "canary", "{\"version\": 2, \"percent\": 10}").json().get("canary_percent").asInt()).isEqualTo(10);
        Http.Response fifty = act(model, "percent", "{\"percent\": 50}", "If-Match", "\"3\"");
        assertThat(fifty.json().get("canary_percent").asInt()).isEqualTo(50);
        assertThat(fifty.header("ETag")).isEqualTo("\"4\"");
        assertThat(reader().get("/v1/registry/models/" + model + "/versions/canary").json().get("version").asInt()).isEqualTo(2);
        assertThat(reader().get("/v1/registry/models/" + model + "/versions/stable").json().get("version").asInt()).isEqualTo(1);

        JsonNode back = act(model, "rollback", null).json();
        assertThat(back.get("stable_version").asInt()).isEqualTo(1);
        assertThat(back.has("canary_version")).isFalse();
        assertThat(back.get("revision").asLong()).isEqualTo(5);

        JsonNode history = reader().get("/v1/registry/models/" + model + "/rollout/history").json().get("changes");
        assertThat(history.findValuesAsString("action")).containsExactly("start_canary", "promote", "start_canary", "set_percent", "rollback");
        JsonNode setPercent = history.get(3);
        assertThat(setPercent.get("actor").asString()).isEqualTo("admin");
        assertThat(setPercent.get("from").get("canary_percent").asInt()).isEqualTo(10);
        assertThat(setPercent.get("to").get("canary_percent").asInt()).isEqualTo(50);
        assertThat(setPercent.get("at").asString()).isNotBlank();
    }

    @Test
    void shouldRefuseIllegalMovesAndLeaveTheStateAsItWas() throws Exception {
        String model = modelWithVersions(2);
        Http.Response promote = act(model, "promote", null);
        assertThat(promote.status()).isEqualTo(409);
        assertThat(promote.json().get("type").asString()).isEqualTo("urn:llm-registry:illegal-transition");
        assertThat(promote.json().get("detail").asString()).contains("no canary to promote");

        assertThat(act(model, "canary", "{\"version\": 1, \"percent\": 30}").json().get("detail").asString())
                .contains("no stable version yet");
        assertThat(act(model, "canary", "{\"version\": 9}").status()).isEqualTo(404);
        assertThat(act(model, "canary", "{\"version\": 1}").status()).isEqualTo(200);
        assertThat(act(model, "canary", "{\"version\": 2}").json().get("detail").asString()).contains("already running");
        Http.Response badPercent = act(model, "percent", "{\"percent\": 101}");
        assertThat(badPercent.status()).isEqualTo(400);
        assertThat(badPercent.json().get("detail").asString()).contains("percent");
        assertThat(reader().get("/v1/registry/models/" + model + "/rollout").json().get("revision").asLong()).isEqualTo(1);
        assertThat(act("no-such-model", "promote", null).status()).isEqualTo(404);
    }

    @Test
    void shouldAnswerAStaleIfMatchWith409CarryingTheCurrentState() throws Exception {
        String model = modelWithVersions(1);
        act(model, "canary", "{\"version\": 1}");
        Http.Response stale = act(model, "promote", null, "If-Match", "\"0\"");
        assertThat(stale.status()).isEqualTo(409);
        assertThat(stale.json().get("type").asString()).isEqualTo("urn:llm-registry:revision-conflict");
        assertThat(stale.json().get("current").get("revision").asLong()).isEqualTo(1);
        assertThat(stale.json().get("current").get("canary_version").asInt()).isEqualTo(1);
    }

    @Test
    void shouldListEveryModelsRolloutWithTheLastEventId() throws Exception {
        String model = modelWithVersions(1);
        act(model, "canary", "{\"version\": 1}");
        JsonNode all = reader().get("/v1/registry/rollouts").json();
        assertThat(all.get("rollouts").findValuesAsString("model")).contains(model);
        assertThat(all.get("last_event_id").asLong()).isPositive();
    }

    @Test
    void shouldStreamRolloutChangesAndReplayWhatAReconnectingWatcherMissed() throws Exception {
        String model = modelWithVersions(2);
        Watch live = watch(model, null);
        act(model, "canary", "{\"version\": 1}");
        act(model, "promote", null);
        JsonNode first = nextEvent(live.lines());
        JsonNode second = nextEvent(live.lines());
        live.response().body().close();
        assertThat(first.get("action").asString()).isEqualTo("start_canary");
        assertThat(first.get("model").asString()).isEqualTo(model);
        assertThat(second.get("action").asString()).isEqualTo("promote");
        assertThat(second.get("to").get("stable_version").asInt()).isEqualTo(1);

        // A watcher that saw only the first change reconnects with its id and gets the second from the audit log.
        Watch resumed = watch(model, first.get("id").asLong());
        JsonNode missed = nextEvent(resumed.lines());
        assertThat(missed.get("id").asLong()).isEqualTo(second.get("id").asLong());
        assertThat(missed.get("action").asString()).isEqualTo("promote");
        resumed.response().body().close();
    }

    private record Watch(HttpResponse<Stream<String>> response, BlockingQueue<String> lines) {
    }

    private Watch watch(String model, Long lastEventId) throws Exception {
        var request = reader().request("/v1/registry/rollouts/events?model=" + model, "Accept", "text/event-stream");
        if (lastEventId != null) {
            request.header("Last-Event-ID", lastEventId.toString());
        }
        HttpResponse<Stream<String>> r = HttpClient.newHttpClient().send(request.GET().build(), HttpResponse.BodyHandlers.ofLines());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread.ofVirtual().start(() -> {
            try {
                r.body().forEach(lines::add);
            } catch (RuntimeException closed) {
                // the test closed the stream
            }
        });
        return new Watch(r, lines);
    }

    /** The data of the next {@code rollout} event (skipping comments and heartbeats). */
    private static JsonNode nextEvent(BlockingQueue<String> lines) throws InterruptedException {
        boolean inRollout = false;
        while (true) {
            String line = lines.poll(10, TimeUnit.SECONDS);
            assertThat(line).as("an event within 10 s").isNotNull();
            if (line.equals("event:rollout")) {
                inRollout = true;
            } else if (inRollout && line.startsWith("data:")) {
                return Http.JSON.readTree(line.substring(5));
            }
        }
    }
}
