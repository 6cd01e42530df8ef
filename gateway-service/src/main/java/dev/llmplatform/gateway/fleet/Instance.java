package dev.llmplatform.gateway.fleet;

import java.net.URI;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One inference instance: where it is, what it last reported, whether it is in rotation, and how many of the
 * gateway's requests it has in flight (counted from choice until the response ends).
 */
public final class Instance {
    private final String id;
    private final URI baseUrl;
    private final String origin;
    private final AtomicInteger inFlight = new AtomicInteger();
    private volatile InstanceReport report;
    private volatile boolean healthy;
    private int consecutiveFailures;

    public Instance(URI baseUrl, String origin) {
        String s = baseUrl.toString();
        this.baseUrl = URI.create(s.endsWith("/") ? s.substring(0, s.length() - 1) : s);
        this.id = this.baseUrl.getHost() + ":" + port(this.baseUrl);
        this.origin = origin;
    }

    private static int port(URI u) {
        return u.getPort() > 0 ? u.getPort() : "https".equals(u.getScheme()) ? 443 : 80;
    }

    /** {@code host:port}, the name in metrics and logs. */
    public String id() {
        return id;
    }

    public URI baseUrl() {
        return baseUrl;
    }

    /** {@code static} or {@code discovery:<service id>}. */
    public String origin() {
        return origin;
    }

    public InstanceReport report() {
        return report;
    }

    public boolean healthy() {
        return healthy;
    }

    /** Whether it serves {@code model} (as of its last good poll). */
    public boolean serves(String model) {
        InstanceReport r = report;
        return r != null && r.model().equals(model);
    }

    public int inFlight() {
        return inFlight.get();
    }

    public void acquire() {
        inFlight.incrementAndGet();
    }

    public void release() {
        inFlight.decrementAndGet();
    }

    /** Outstanding work: the larger of the gateway's own in-flight count and the instance's running + waiting
     * requests (the report is up to one poll old and includes other gateways' requests), plus KV cache pressure. */
    public double load(double kvCacheWeight) {
        InstanceReport r = report;
        double reported = r == null ? 0 : r.running() + r.waiting();
        return Math.max(inFlight.get(), reported) + (r == null ? 0 : r.kvCacheUsage() * kvCacheWeight);
    }

    /** Records a poll that succeeded; it is in rotation from now on. */
    public synchronized void pollSucceeded(InstanceReport report) {
        this.report = report;
        this.consecutiveFailures = 0;
        this.healthy = true;
    }

    /** Records a failed poll; returns whether the instance is still in rotation. */
    synchronized boolean pollFailed(int unhealthyAfter) {
        consecutiveFailures++;
        if (consecutiveFailures >= unhealthyAfter) {
            healthy = false;
        }
        return healthy;
    }

    @Override
    public String toString() {
        return id;
    }
}
