package dev.llmplatform.gateway.support;

/**
 * Starts the test fleet and leaves it running (until this process is stopped), for working on the tests:
 * run the tests with {@code -Dgateway.fleet.reuse=true} to use it. Not used by the build.
 */
public final class FleetLauncher {
    private FleetLauncher() {
    }

    public static void main(String[] args) throws Exception {
        TestFleet f = TestFleet.start(false);
        f.save();
        System.out.println("fleet running: " + TestFleet.RUNNING.toAbsolutePath());
    }
}
