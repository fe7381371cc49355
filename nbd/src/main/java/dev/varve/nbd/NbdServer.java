package dev.varve.nbd;

import dev.varve.engine.Store;
import dev.varve.nbd.control.ControlServer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Serves a store's volumes (read-write, by name) and snapshots (read-only, as
 * {@code VOLUME@SNAP}) over NBD, so QEMU, qemu-img, nbdcopy, nbdkit and the kernel's client use
 * Varve as a disk. One thread per connection reads requests; a shared pool runs them.
 *
 * <pre>{@code
 * try (Store store = Store.open(dir);
 *      NbdServer server = new NbdServer(store, ServerOptions.defaults().withPort(0)).start()) {
 *     System.out.println("nbd://127.0.0.1:" + server.port() + "/vm1");
 *     server.join();
 * }
 * }</pre>
 *
 * <p>The server does not own the store: closing the server drops every client (after their
 * requests in flight finish) and leaves the store open for the caller to close.
 */
public final class NbdServer implements AutoCloseable {
    private static final long DROP_WAIT_MILLIS = 30_000;

    private final Store store;
    private final ServerOptions options;
    private final Exports exports;
    private final BufferPool buffers;
    private final ThreadPoolExecutor workers;
    private final ScheduledExecutorService timers;
    private final List<String> warnings = new ArrayList<>();
    private final CountDownLatch stopped = new CountDownLatch(1);

    /** Guards {@link #connections} and {@link #fenced}. */
    private final Object registry = new Object();
    private final Set<Connection> connections = new LinkedHashSet<>();
    private final Map<String, Integer> fenced = new HashMap<>();

    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong protocolErrors = new AtomicLong();
    private final AtomicLong internalErrors = new AtomicLong();
    private long nextId = 1;

    private ServerSocketChannel tcp;
    private ServerSocketChannel unix;
    private ControlServer control;
    private volatile boolean started;
    private volatile boolean closed;

    /** What the server has done so far. */
    public record Stats(long accepted, long refused, int active, long protocolErrors, long internalErrors) {
    }

    public NbdServer(Store store, ServerOptions options) {
        this.store = store;
        this.options = options;
        this.exports = new Exports(store, options.readOnly());
        this.buffers = new BufferPool(options.maxRequestBytes(), options.bufferBudgetBytes());
        this.workers = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 30, TimeUnit.SECONDS, new SynchronousQueue<>(),
                r -> daemon(r, "varve-nbd-worker"));
        this.timers = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "varve-nbd-timer"));
    }

    /**
     * A server thread. Whatever escapes it (an Error in a worker, a bug in an accept loop) counts
     * as an internal error and is logged, instead of going to standard error unnoticed.
     */
    private Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.setUncaughtExceptionHandler((thread, e) -> internalError(thread.getName(), e));
        return t;
    }

    /** Binds the listeners and starts accepting; returns this. */
    public synchronized NbdServer start() throws IOException {
        if (started) {
            throw new IllegalStateException("the server is already started");
        }
        if (options.port() < 0 && options.unixSocket() == null) {
            throw new IllegalArgumentException("no TCP port and no Unix socket: the server would listen nowhere");
        }
        started = true;
        try {
            if (options.port() >= 0) {
                InetAddress addr = InetAddress.getByName(options.bindAddress());
                tcp = ServerSocketChannel.open();
                tcp.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                tcp.bind(new InetSocketAddress(addr, options.port()), 64);
                if (!addr.isLoopbackAddress()) {
                    warn("WARNING: serving on " + addr.getHostAddress() + ", not loopback: NBD has no authentication "
                            + "and no encryption, so anyone who can reach port " + port()
                            + " can read and overwrite every volume in " + store.directory());
                }
                listen(tcp, true);
            }
            if (options.unixSocket() != null) {
                unix = bindUnix(options.unixSocket());
                listen(unix, false);
            }
            if (options.controlSocket()) {
                ControlServer c = new ControlServer(store, this);
                try {
                    c.start();
                    control = c;
                } catch (IOException e) {
                    // serving matters more than live management; say what is missing
                    warn("WARNING: no control socket at " + c.path() + " (" + e.getMessage() + "): other varve "
                            + "commands cannot reach this server while it holds the store");
                }
            }
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
        String where = (tcp != null ? "nbd://" + options.bindAddress() + ":" + port() + "/VOLUME" : "")
                + (tcp != null && unix != null ? " and " : "")
                + (unix != null ? "nbd+unix:///VOLUME?socket=" + options.unixSocket() : "");
        options.log().accept("serving " + store.directory() + " on " + where
                + (options.readOnly() ? " (read-only)" : ""));
        return this;
    }

    /**
     * Binds a Unix domain socket, replacing a stale socket file that nobody listens on; a live
     * one is left alone and reported.
     */
    static ServerSocketChannel bindUnix(Path path) throws IOException {
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            if (!Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther()) {
                throw new IOException(path + " exists and is not a socket; choose another path");
            }
            boolean live;
            try {
                SocketChannel.open(UnixDomainSocketAddress.of(path)).close();
                live = true;
            } catch (IOException e) {
                live = false;
            }
            if (live) {
                throw new IOException(path + " is in use by a running server");
            }
            Files.deleteIfExists(path);
        }
        ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        s.bind(UnixDomainSocketAddress.of(path), 64);
        return s;
    }

    private void listen(ServerSocketChannel ssc, boolean isTcp) {
        Thread t = daemon(() -> acceptLoop(ssc, isTcp), "varve-nbd-accept-" + (isTcp ? "tcp" : "unix"));
        t.start();
    }

    private void acceptLoop(ServerSocketChannel ssc, boolean isTcp) {
        while (!closed) {
            SocketChannel c;
            try {
                c = ssc.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (closed) {
                    return;
                }
                // out of file descriptors and the like: back off rather than spin
                options.log().accept("nbd: accept failed: " + e.getMessage());
                sleepQuietly(100);
                continue;
            }
            String peer = "unix socket";
            try {
                if (isTcp) {
                    c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    peer = String.valueOf(c.getRemoteAddress());
                }
            } catch (IOException e) {
                closeQuietly(c);
                continue;
            }
            accepted.incrementAndGet();
            Connection conn;
            synchronized (registry) {
                if (closed || connections.size() >= options.maxConnections()) {
                    conn = null;
                } else {
                    conn = new Connection(this, c, nextId++, peer);
                    connections.add(conn);
                }
            }
            if (conn == null) {
                refused.incrementAndGet();
                closeQuietly(c);
                continue;
            }
            daemon(conn, "varve-nbd-conn").start();
        }
    }

    /** The TCP port listened on (the chosen one when the options said 0), or -1 without TCP. */
    public int port() {
        ServerSocketChannel t = tcp;
        if (t == null) {
            return -1;
        }
        try {
            return ((InetSocketAddress) t.getLocalAddress()).getPort();
        } catch (IOException e) {
            return -1;
        }
    }

    /** The Unix socket listened on, or null. */
    public Path unixSocket() {
        return unix == null ? null : options.unixSocket();
    }

    public Store store() {
        return store;
    }

    public ServerOptions options() {
        return options;
    }

    /** Warnings given at start (a bind to a non-loopback address). */
    public List<String> warnings() {
        synchronized (warnings) {
            return List.copyOf(warnings);
        }
    }

    public Stats stats() {
        int active;
        synchronized (registry) {
            active = connections.size();
        }
        return new Stats(accepted.get(), refused.get(), active, protocolErrors.get(), internalErrors.get());
    }

    /** Connected clients per export name (only those past the handshake). */
    public Map<String, Integer> clients() {
        Map<String, Integer> out = new TreeMap<>();
        synchronized (registry) {
            for (Connection c : connections) {
                Export e = c.export();
                if (e != null) {
                    out.merge(e.name(), 1, Integer::sum);
                }
            }
        }
        return out;
    }

    /**
     * Keeps new clients off every export of {@code volume} (its head and its snapshots) until the
     * returned fence is closed: they get a "busy, try again" error. A revert or destroy takes it
     * before it drops the clients it must, so none can connect in between.
     */
    public AutoCloseable fence(String volume) {
        synchronized (registry) {
            fenced.merge(volume, 1, Integer::sum);
        }
        boolean[] open = {true};
        return () -> {
            synchronized (registry) {
                if (open[0]) {
                    open[0] = false;
                    fenced.computeIfPresent(volume, (k, n) -> n == 1 ? null : n - 1);
                }
            }
        };
    }

    /**
     * Disconnects every client of these exports and waits until none of their requests is
     * running any more.
     *
     * @return how many clients were disconnected
     */
    public int disconnect(Collection<String> exportNames) {
        Set<String> names = new HashSet<>(exportNames);
        List<Connection> victims = new ArrayList<>();
        synchronized (registry) {
            for (Connection c : connections) {
                Export e = c.export();
                if (e != null && names.contains(e.name())) {
                    victims.add(c);
                }
            }
        }
        for (Connection c : victims) {
            c.drop();
        }
        for (Connection c : victims) {
            if (!c.dropAndWait(DROP_WAIT_MILLIS)) {
                options.log().accept("nbd: " + c + " did not finish its requests in time");
            }
        }
        return victims.size();
    }

    boolean attach(Connection c, Export e, Runnable bind) {
        synchronized (registry) {
            if (closed || fenced.containsKey(e.volume())) {
                return false;
            }
            bind.run();
            return true;
        }
    }

    boolean closing() {
        return closed;
    }

    void removed(Connection c) {
        synchronized (registry) {
            connections.remove(c);
        }
    }

    /** Drops the client if its handshake is not over in time; null when the server is closing. */
    ScheduledFuture<?> handshakeDeadline(Connection c) {
        try {
            return timers.schedule(c::drop, options.handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // the server is closing: this client goes at once
            c.drop();
            return null;
        }
    }

    void protocolError(Connection c, Exception e) {
        protocolErrors.incrementAndGet();
    }

    void internalError(Connection c, Throwable t) {
        internalError(String.valueOf(c), t);
    }

    private void internalError(String where, Throwable t) {
        internalErrors.incrementAndGet();
        StringWriter w = new StringWriter();
        t.printStackTrace(new PrintWriter(w));
        options.log().accept("nbd: internal error on " + where + ": " + w);
    }

    private void warn(String w) {
        synchronized (warnings) {
            warnings.add(w);
        }
        options.log().accept(w);
    }

    Exports exports() {
        return exports;
    }

    BufferPool buffers() {
        return buffers;
    }

    ThreadPoolExecutor workers() {
        return workers;
    }

    /** Blocks until the server is closed. */
    public void join() throws InterruptedException {
        stopped.await();
    }

    /**
     * Stops listening, disconnects every client and waits for their requests in flight to
     * finish. The store stays open.
     */
    @Override
    public void close() {
        List<Connection> all;
        synchronized (this) {
            synchronized (registry) {
                if (closed) {
                    return;
                }
                closed = true;
                all = new ArrayList<>(connections);
            }
        }
        if (control != null) {
            control.close();
        }
        closeQuietly(tcp);
        closeQuietly(unix);
        if (unix != null) {
            try {
                Files.deleteIfExists(options.unixSocket());
            } catch (IOException e) {
                // a stale socket file is replaced on the next start
            }
        }
        for (Connection c : all) {
            c.drop();
        }
        for (Connection c : all) {
            c.dropAndWait(DROP_WAIT_MILLIS);
        }
        timers.shutdownNow();
        // never shutdownNow: an interrupt inside the engine's file I/O would close its files
        workers.shutdown();
        stopped.countDown();
    }

    private static void closeQuietly(java.io.Closeable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (IOException e) {
            // nothing more to do
        }
    }

    private static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
