package dev.varve.nbd.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.varve.engine.BlockDevice;
import dev.varve.engine.SnapshotInfo;
import dev.varve.engine.Store;
import dev.varve.engine.VolumeInfo;
import dev.varve.engine.stream.ResumeToken;
import dev.varve.nbd.NbdServer;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;

/**
 * Live management of a served store: the other {@code varve} commands find the running server
 * through {@code control.sock} in the store directory and ask it, since the server holds the
 * store's lock. One JSON object per line each way (see {@link ControlClient} for the requests).
 * The socket is readable and writable by its owner only.
 *
 * <p>A revert, destroy, rename, shrink, write or receive that would change what connected NBD
 * clients see (or the name they know it by) is refused unless forced; forced, it first keeps
 * new clients off the volume, disconnects those connected, waits for their requests in flight,
 * and only then changes the store. Requests that move bytes (reading a device out, send,
 * write, import, receive) are {@link Transfers}.
 */
public final class ControlServer implements AutoCloseable {
    public static final String SOCKET_NAME = "control.sock";
    private static final int MAX_CLIENTS = 8;

    private final Store store;
    private final NbdServer server;
    private final Path path;
    private final Semaphore clientSlots = new Semaphore(MAX_CLIENTS);
    private final Set<SocketChannel> clients = ConcurrentHashMap.newKeySet();
    private final Transfers transfers;
    private ServerSocketChannel listener;
    private volatile boolean closed;

    public ControlServer(Store store, NbdServer server) {
        this.store = store;
        this.server = server;
        this.path = socketPath(store.directory());
        this.transfers = new Transfers(store, this);
    }

    public static Path socketPath(Path storeDir) {
        return storeDir.resolve(SOCKET_NAME);
    }

    public Path path() {
        return path;
    }

    public void start() throws IOException {
        // this process holds the store's lock, so a socket file left here is a dead server's
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            Files.delete(path);
        }
        ServerSocketChannel l = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        l.bind(UnixDomainSocketAddress.of(path), 8);
        try {
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system: the directory's permissions are all there is
        }
        listener = l;
        Thread t = new Thread(this::acceptLoop, "varve-control-accept");
        t.setDaemon(true);
        t.start();
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel c;
            try {
                c = listener.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (closed) {
                    return;
                }
                continue;
            }
            if (!clientSlots.tryAcquire()) {
                closeQuietly(c);
                continue;
            }
            clients.add(c);
            Thread t = new Thread(() -> serve(c), "varve-control");
            t.setDaemon(true);
            t.start();
        }
    }

    private void serve(SocketChannel c) {
        try (c) {
            DataInputStream in = new DataInputStream(new BufferedInputStream(Channels.newInputStream(c)));
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Channels.newOutputStream(c)));
            while (!closed) {
                JsonNode req;
                try {
                    req = JsonLines.read(in);
                } catch (com.fasterxml.jackson.core.JacksonException e) {
                    JsonLines.write(out, error("IllegalArgumentException", "not a JSON request: " + e.getOriginalMessage()));
                    continue;
                }
                if (req == null) {
                    return;
                }
                String op = req.path("op").asText("");
                if (Transfers.handles(op)) {
                    transfers.run(op, req, in, out);
                } else {
                    JsonLines.write(out, handle(req));
                }
            }
        } catch (IOException e) {
            // the client went away
        } finally {
            clients.remove(c);
            clientSlots.release();
        }
    }

    /** Runs one request; never throws: failures become {@code {"ok":false,"error":{...}}}. */
    public ObjectNode handle(JsonNode req) {
        try {
            if (!req.isObject() || !req.path("op").isTextual()) {
                throw new IllegalArgumentException("a request is a JSON object with an \"op\" field");
            }
            return ok(run(req.get("op").asText(), req));
        } catch (IOException | RuntimeException e) {
            return error(e);
        }
    }

    static ObjectNode ok(Object result) {
        ObjectNode ok = JsonLines.MAPPER.createObjectNode();
        ok.put("ok", true);
        ok.set("result", JsonLines.MAPPER.valueToTree(result));
        return ok;
    }

    static ObjectNode error(Exception e) {
        return error(e.getClass().getSimpleName(), String.valueOf(e.getMessage()));
    }

    private static ObjectNode error(String type, String message) {
        ObjectNode n = JsonLines.MAPPER.createObjectNode();
        n.put("ok", false);
        ObjectNode err = n.putObject("error");
        err.put("type", type);
        err.put("message", message);
        return n;
    }

    private Object run(String op, JsonNode req) throws IOException {
        switch (op) {
            case "ping" -> {
                Map<String, Object> m = new HashMap<>();
                m.put("store", store.directory().toString());
                m.put("pid", ProcessHandle.current().pid());
                m.put("port", server.port());
                m.put("socket", server.unixSocket() == null ? null : server.unixSocket().toString());
                m.put("readOnly", server.options().readOnly());
                return m;
            }
            case "info" -> {
                Map<String, Object> m = new HashMap<>();
                m.put("store", store.info());
                m.put("clients", server.clients());
                m.put("stats", server.stats());
                return m;
            }
            case "list" -> {
                Map<String, Object> m = new HashMap<>();
                m.put("volumes", store.volumes());
                m.put("snapshots", store.snapshots());
                m.put("clients", server.clients());
                return m;
            }
            case "create" -> {
                String volume = text(req, "volume");
                long size = req.path("size").asLong(-1);
                int blockSize = req.path("blockSize").asInt(4096);
                store.createVolume(volume, size, blockSize);
                return store.volumeInfo(volume);
            }
            case "snapshot" -> {
                Map<String, String> props = properties(req);
                if (req.has("volumes")) {
                    List<String> volumes = new ArrayList<>();
                    req.get("volumes").forEach(v -> volumes.add(v.asText()));
                    return store.snapshotGroup(text(req, "snapshot"), volumes, props);
                }
                return store.snapshot(text(req, "volume"), text(req, "snapshot"), props);
            }
            case "revert" -> {
                String volume = text(req, "volume");
                String snapshot = text(req, "snapshot");
                String keep = req.path("keepCurrent").isTextual() ? req.get("keepCurrent").asText() : null;
                // a request that is bound to fail must not disconnect anyone first
                store.snapshotInfo(volume, snapshot);
                return changing(List.of(volume), List.of(volume), req, "revert " + volume + " to " + snapshot, () -> {
                    store.revert(volume, snapshot, keep);
                    return store.volumeInfo(volume);
                });
            }
            case "revertGroup" -> {
                String group = text(req, "group");
                List<String> volumes = new ArrayList<>();
                for (SnapshotInfo s : store.snapshots()) {
                    if (group.equals(s.group())) {
                        volumes.add(s.volume());
                    }
                }
                return changing(volumes, volumes, req, "revert group " + group, () -> {
                    store.revertGroup(group);
                    return null;
                });
            }
            case "clone" -> {
                String newVolume = text(req, "newVolume");
                store.clone(text(req, "volume"), text(req, "snapshot"), newVolume);
                return store.volumeInfo(newVolume);
            }
            case "destroy" -> {
                String target = text(req, "target");
                boolean recursive = req.path("recursive").asBoolean(false);
                int at = target.indexOf('@');
                if (at >= 0) {
                    String volume = target.substring(0, at);
                    String snap = target.substring(at + 1);
                    store.snapshotInfo(volume, snap);
                    return changing(List.of(volume), List.of(target), req, "destroy " + target, () -> {
                        store.destroySnapshot(volume, snap);
                        return null;
                    });
                }
                if (!recursive && !store.snapshots(target).isEmpty()) {
                    // refused by the engine (it names the snapshots) before anyone is disconnected
                    store.destroyVolume(target, false);
                }
                List<String> exports = new ArrayList<>(List.of(target));
                if (recursive) {
                    for (String name : server.clients().keySet()) {
                        if (name.startsWith(target + "@")) {
                            exports.add(name);
                        }
                    }
                }
                return changing(List.of(target), exports, req, "destroy " + target, () -> {
                    store.destroyVolume(target, recursive);
                    return null;
                });
            }
            case "gc" -> {
                return req.has("victimUtilization") ? store.gc(req.get("victimUtilization").asDouble()) : store.gc();
            }
            case "gcPause" -> {
                boolean was = store.collectorPaused();
                store.pauseCollector();
                return Map.of("wasPaused", was);
            }
            case "gcResume" -> {
                boolean was = store.collectorPaused();
                store.resumeCollector();
                return Map.of("wasPaused", was);
            }
            case "space" -> {
                return store.space();
            }
            case "spaceSummary" -> {
                return store.spaceSummary();
            }
            case "device" -> {
                return deviceFacts(store.device(text(req, "device")));
            }
            case "rename" -> {
                return rename(text(req, "target"), text(req, "newName"), req.path("force").asBoolean(false));
            }
            case "properties" -> {
                return store.properties(text(req, "target"));
            }
            case "setProperties" -> {
                String target = text(req, "target");
                // one at a time, in the order given, as when the CLI opens the store itself
                for (Map.Entry<String, String> kv : properties(req).entrySet()) {
                    store.setProperty(target, kv.getKey(), kv.getValue());
                }
                for (JsonNode k : req.path("unset")) {
                    store.setProperty(target, k.asText(), null);
                }
                return store.properties(target);
            }
            case "resize" -> {
                return resize(text(req, "volume"), req.path("size").asLong(-1), req.path("force").asBoolean(false));
            }
            case "limit" -> {
                if (req.hasNonNull("maxSize")) {
                    store.setMaxSize(req.get("maxSize").asLong());
                }
                return Map.of("maxSize", store.maxSize());
            }
            case "receiveToken" -> {
                ResumeToken t = store.receiveResumeToken(text(req, "volume"));
                return t == null ? null : t.toString();
            }
            case "abortReceive" -> {
                store.abortReceive(text(req, "volume"));
                return null;
            }
            default -> throw new IllegalArgumentException("unknown control request '" + op + "'; known: ping, info,"
                    + " list, create, snapshot, revert, revertGroup, clone, destroy, gc, gcPause, gcResume, space,"
                    + " spaceSummary, device, rename, properties, setProperties, resize, limit, receiveToken,"
                    + " abortReceive, " + Transfers.OPS);
        }
    }

    /** What a download's header and {@code device} say about a volume head or snapshot. */
    static Map<String, Object> deviceFacts(BlockDevice d) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", d.name());
        m.put("size", d.size());
        m.put("blockSize", d.blockSize());
        m.put("readOnly", d.readOnly());
        return m;
    }

    /**
     * Renames a volume (its snapshots' export names change with it) or a snapshot. NBD clients
     * of the old names would go on under names nobody can see, beyond the reach of a later
     * revert's or destroy's check, so connected ones make it fail unless forced, which
     * disconnects them. The rename goes first: one that fails disconnects nobody, and until
     * they are dropped the clients read and write the same data under the new name.
     */
    private Object rename(String target, String newName, boolean force) throws IOException {
        int at = target.indexOf('@');
        String volume = at < 0 ? target : target.substring(0, at);
        try (Fences f = new Fences(List.of(volume))) {
            List<String> exports = at < 0 ? exportsOf(volume) : List.of(target);
            List<String> busy = busy(exports);
            if (!busy.isEmpty() && !force) {
                throw new VolumeBusyException("cannot rename " + target + ": NBD clients are connected to "
                        + String.join(", ", busy) + ", which keep the old name; stop them first, or force it"
                        + " (--force), which disconnects them (they reconnect under the new name)");
            }
            if (at < 0) {
                store.renameVolume(volume, newName);
            } else {
                store.renameSnapshot(volume, target.substring(at + 1), newName);
            }
            if (!busy.isEmpty()) {
                server.disconnect(exports);
            }
            return null;
        }
    }

    /**
     * Resizes a volume. NBD clients learn a size only when they connect: growing is safe (they
     * go on with the old size until they reconnect), shrinking would take away blocks they may
     * be using, so connected clients make a shrink fail unless forced, which disconnects them.
     */
    private Object resize(String volume, long size, boolean force) throws IOException {
        VolumeInfo v = store.volumeInfo(volume);
        long old = v.size();
        // a size the engine refuses is refused before anyone is disconnected
        boolean shrink = size > 0 && size < old && size % v.blockSize() == 0;
        if (shrink) {
            changing(List.of(volume), List.of(volume), force, true, "shrink " + volume + " from " + old + " to "
                    + size + " bytes", () -> {
                        store.resizeVolume(volume, size);
                        return null;
                    });
        } else {
            store.resizeVolume(volume, size);
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("oldSize", old);
        m.put("size", size);
        m.put("clients", server.clients().getOrDefault(volume, 0));
        return m;
    }

    /** A volume's head and its snapshots that have clients now. */
    private List<String> exportsOf(String volume) {
        List<String> names = new ArrayList<>(List.of(volume));
        for (String name : server.clients().keySet()) {
            if (name.startsWith(volume + "@")) {
                names.add(name);
            }
        }
        return names;
    }

    /** "vm (1 client)" for each of these exports that has clients. */
    private List<String> busy(List<String> exports) {
        Map<String, Integer> clients = server.clients();
        List<String> busy = new ArrayList<>();
        for (String e : exports) {
            if (clients.containsKey(e)) {
                busy.add(e + " (" + clients.get(e) + " client" + (clients.get(e) == 1 ? "" : "s") + ")");
            }
        }
        return busy;
    }

    /** New NBD clients kept off these volumes (their heads and snapshots) until closed. */
    private final class Fences implements AutoCloseable {
        private final List<AutoCloseable> fences = new ArrayList<>();

        Fences(List<String> volumes) {
            for (String v : new LinkedHashSet<>(volumes)) {
                fences.add(server.fence(v));
            }
        }

        @Override
        public void close() {
            for (AutoCloseable f : fences) {
                try {
                    f.close();
                } catch (Exception e) {
                    // fences do not fail to close
                }
            }
        }
    }

    @FunctionalInterface
    interface Change {
        Object apply() throws IOException;
    }

    private Object changing(List<String> volumes, List<String> exports, JsonNode req, String what, Change change)
            throws IOException {
        return changing(volumes, exports, req.path("force").asBoolean(false), true, what, change);
    }

    /**
     * Runs a change that would pull the ground from under connected clients of {@code exports}:
     * new clients are kept off {@code volumes} meanwhile; connected ones make it fail unless
     * {@code force}, which disconnects them first ({@code forcible}: the command has a --force
     * that says so).
     */
    Object changing(List<String> volumes, List<String> exports, boolean force, boolean forcible, String what,
                    Change change) throws IOException {
        try (Fences f = new Fences(volumes)) {
            List<String> busy = busy(exports);
            if (!busy.isEmpty()) {
                if (!force || !forcible) {
                    throw new VolumeBusyException("cannot " + what + ": NBD clients are connected to "
                            + String.join(", ", busy) + "; stop them first"
                            + (forcible ? ", or force it (--force), which disconnects them" : ""));
                }
                server.disconnect(exports);
            }
            return change.apply();
        }
    }

    /** Where the server says what went wrong outside any request (a cleanup that failed). */
    void log(String line) {
        server.options().log().accept(line);
    }

    private static String text(JsonNode req, String field) {
        JsonNode n = req.get(field);
        if (n == null || !n.isTextual()) {
            throw new IllegalArgumentException("the request needs a text field \"" + field + "\"");
        }
        return n.asText();
    }

    private static Map<String, String> properties(JsonNode req) {
        Map<String, String> m = new LinkedHashMap<>();
        JsonNode p = req.get("properties");
        if (p != null && p.isObject()) {
            p.fields().forEachRemaining(e -> m.put(e.getKey(), e.getValue().asText()));
        }
        return m;
    }

    @Override
    public void close() {
        closed = true;
        closeQuietly(listener);
        for (SocketChannel c : clients) {
            closeQuietly(c);
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            // replaced by the next server on this store
        }
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
}
