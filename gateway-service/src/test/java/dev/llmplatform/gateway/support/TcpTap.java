package dev.llmplatform.gateway.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A TCP relay between the gateway and an instance that notes when each server-sent event ({@code data: }) leaves
 * the instance, so that a test can compare it with when the client receives it, and keeps what the gateway sent
 * (to check which headers reach the instance). It forwards every byte as soon as it reads it (TCP_NODELAY both
 * ways) and closes both sides when either does.
 */
public final class TcpTap implements AutoCloseable {
    private static final byte[] EVENT = "data: ".getBytes(StandardCharsets.US_ASCII);

    private final ServerSocket server;
    private final URI target;
    private final List<List<Long>> connections = Collections.synchronizedList(new ArrayList<>());
    private final StringBuffer requests = new StringBuffer();

    public TcpTap(URI target) throws IOException {
        this.target = target;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().name("tap-accept").start(this::accept);
    }

    public URI url() {
        return URI.create("http://127.0.0.1:" + server.getLocalPort());
    }

    /** The send times (ns) of the events of the connection that carried the most events since the last call. */
    public List<Long> takeBusiestStream() {
        synchronized (connections) {
            List<Long> busiest = List.of();
            for (List<Long> c : connections) {
                synchronized (c) {
                    if (c.size() > busiest.size()) {
                        busiest = List.copyOf(c);
                    }
                    c.clear();
                }
            }
            return busiest;
        }
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket upstream = new Socket(target.getHost(), target.getPort());
                client.setTcpNoDelay(true);
                upstream.setTcpNoDelay(true);
                List<Long> events = new ArrayList<>();
                connections.add(events);
                Thread.ofPlatform().daemon().start(() -> pump(client, upstream, null, requests));
                Thread.ofPlatform().daemon().start(() -> pump(upstream, client, events, null));
            } catch (IOException e) {
                return;
            }
        }
    }

    /** What the gateway sent to the instance since the last call (ISO-8859-1, so headers read as text). */
    public String takeRequests() {
        synchronized (requests) {
            String text = requests.toString();
            requests.setLength(0);
            return text;
        }
    }

    private static void pump(Socket from, Socket to, List<Long> events, StringBuffer sentText) {
        byte[] buf = new byte[16 * 1024];
        int matched = 0;
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            int n;
            while ((n = in.read(buf)) > 0) {
                long now = System.nanoTime();
                out.write(buf, 0, n);
                out.flush();
                if (sentText != null && sentText.length() < 1 << 20) {
                    sentText.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
                }
                if (events != null) {
                    for (int i = 0; i < n; i++) {
                        matched = buf[i] == EVENT[matched] ? matched + 1 : (buf[i] == EVENT[0] ? 1 : 0);
                        if (matched == EVENT.length) {
                            matched = 0;
                            synchronized (events) {
                                events.add(now);
                            }
                        }
                    }
                }
            }
        } catch (IOException e) {
            // one side closed: close the other below
        } finally {
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
