package dev.varve.nbd.control;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.varve.engine.CorruptionException;
import dev.varve.engine.GcReport;
import dev.varve.engine.HasSnapshotsException;
import dev.varve.engine.InvalidNameException;
import dev.varve.engine.NameExistsException;
import dev.varve.engine.NoSuchSnapshotException;
import dev.varve.engine.NoSuchVolumeException;
import dev.varve.engine.OutOfSpaceException;
import dev.varve.engine.ReadOnlyException;
import dev.varve.engine.SnapshotInfo;
import dev.varve.engine.SpaceInfo;
import dev.varve.engine.SpaceSummary;
import dev.varve.engine.StoreClosedException;
import dev.varve.engine.StoreFailedException;
import dev.varve.engine.StoreInfo;
import dev.varve.engine.VolumeInfo;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Talks to the {@code varve serve} that holds a store, through {@code control.sock} in the store
 * directory. The CLI uses it when opening the store fails because a server holds its lock:
 *
 * <pre>{@code
 * try (ControlClient c = ControlClient.connect(storeDir)) {   // null: no server runs there
 *     SnapshotInfo s = c.snapshot("vm1", "before-upgrade", Map.of());
 * }
 * }</pre>
 *
 * <p>Failures come back as the engine's exception types ({@link NoSuchVolumeException},
 * {@link NameExistsException}, ...), {@link VolumeBusyException} for a revert or destroy refused
 * because clients are connected, or {@link ControlException} for anything else.
 *
 * <p>The wire format, one JSON object per line: a request {@code {"op":"snapshot",
 * "volume":"vm1","snapshot":"s1"}}, a reply {@code {"ok":true,"result":...}} or
 * {@code {"ok":false,"error":{"type":"NoSuchVolumeException","message":"..."}}}.
 */
public final class ControlClient implements AutoCloseable {
    private final SocketChannel channel;
    private final InputStream in;
    private final OutputStream out;

    /** Everything {@link #list()} returns: the catalog and who is connected to what. */
    public record Listing(List<VolumeInfo> volumes, List<SnapshotInfo> snapshots, Map<String, Integer> clients) {
    }

    /** What {@link #info()} returns. */
    public record ServerInfo(StoreInfo store, Map<String, Integer> clients, JsonNode stats) {
    }

    private ControlClient(SocketChannel channel) {
        this.channel = channel;
        this.in = new BufferedInputStream(Channels.newInputStream(channel));
        this.out = new BufferedOutputStream(Channels.newOutputStream(channel));
    }

    public static Path socketPath(Path storeDir) {
        return ControlServer.socketPath(storeDir);
    }

    /** Connects to the server holding {@code storeDir}, or returns null when none is running. */
    public static ControlClient connect(Path storeDir) throws IOException {
        Path p = socketPath(storeDir);
        if (!Files.exists(p)) {
            return null;
        }
        SocketChannel c;
        try {
            c = SocketChannel.open(UnixDomainSocketAddress.of(p));
        } catch (IOException e) {
            // a socket file left by a server that died: nobody answers
            return null;
        }
        return new ControlClient(c);
    }

    /** True when a server answers on the store's control socket. */
    public static boolean isServing(Path storeDir) {
        try (ControlClient c = connect(storeDir)) {
            return c != null && c.call("ping", null) != null;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Sends one request and returns the result (JSON null when the request returns nothing).
     *
     * @param args the request's fields besides {@code op}, or null
     */
    public synchronized JsonNode call(String op, Map<String, ?> args) throws IOException {
        ObjectNode req = JsonLines.MAPPER.createObjectNode();
        req.put("op", op);
        if (args != null) {
            for (Map.Entry<String, ?> e : args.entrySet()) {
                req.set(e.getKey(), JsonLines.MAPPER.valueToTree(e.getValue()));
            }
        }
        JsonLines.write(out, req);
        JsonNode reply = JsonLines.read(in);
        if (reply == null) {
            throw new ControlException(null, "the server closed the control connection without answering");
        }
        if (reply.path("ok").asBoolean(false)) {
            return reply.path("result");
        }
        JsonNode err = reply.path("error");
        throw rethrow(err.path("type").asText(""), err.path("message").asText("(no message)"));
    }

    private static IOException rethrow(String type, String message) {
        switch (type) {
            case "NoSuchVolumeException" -> {
                return new NoSuchVolumeException(message);
            }
            case "NoSuchSnapshotException" -> {
                return new NoSuchSnapshotException(message);
            }
            case "NameExistsException" -> {
                return new NameExistsException(message);
            }
            case "HasSnapshotsException" -> {
                return new HasSnapshotsException(message);
            }
            case "ReadOnlyException" -> {
                return new ReadOnlyException(message);
            }
            case "OutOfSpaceException" -> {
                return new OutOfSpaceException(message);
            }
            case "StoreClosedException" -> {
                return new StoreClosedException(message);
            }
            case "StoreFailedException" -> {
                return new StoreFailedException(message);
            }
            case "CorruptionException" -> {
                return new CorruptionException(message);
            }
            case "VolumeBusyException" -> {
                return new VolumeBusyException(message);
            }
            case "InvalidNameException" -> throw new InvalidNameException(message);
            case "IllegalArgumentException" -> throw new IllegalArgumentException(message);
            default -> {
                return new ControlException(type, message);
            }
        }
    }

    private static <T> T as(JsonNode n, Class<T> type) throws IOException {
        return JsonLines.MAPPER.treeToValue(n, type);
    }

    private static <T> T as(JsonNode n, TypeReference<T> type) throws IOException {
        return JsonLines.MAPPER.readValue(JsonLines.MAPPER.treeAsTokens(n), type);
    }

    // ------------------------------------------------------------------ typed requests

    /** The server's process id, port and socket. */
    public JsonNode ping() throws IOException {
        return call("ping", null);
    }

    public ServerInfo info() throws IOException {
        return as(call("info", null), ServerInfo.class);
    }

    public Listing list() throws IOException {
        return as(call("list", null), Listing.class);
    }

    public VolumeInfo create(String volume, long sizeBytes, int blockSize) throws IOException {
        return as(call("create", Map.of("volume", volume, "size", sizeBytes, "blockSize", blockSize)), VolumeInfo.class);
    }

    public SnapshotInfo snapshot(String volume, String snapshot, Map<String, String> properties) throws IOException {
        return as(call("snapshot", Map.of("volume", volume, "snapshot", snapshot,
                "properties", properties == null ? Map.of() : properties)), SnapshotInfo.class);
    }

    public List<SnapshotInfo> snapshotGroup(String group, List<String> volumes, Map<String, String> properties)
            throws IOException {
        return as(call("snapshot", Map.of("snapshot", group, "volumes", volumes,
                "properties", properties == null ? Map.of() : properties)), new TypeReference<List<SnapshotInfo>>() { });
    }

    /**
     * Reverts a volume; refused with {@link VolumeBusyException} while NBD clients use it,
     * unless {@code force}, which disconnects them first.
     *
     * @param keepCurrent a snapshot name to keep the current state under, or null
     */
    public VolumeInfo revert(String volume, String snapshot, String keepCurrent, boolean force) throws IOException {
        Map<String, Object> args = new java.util.HashMap<>();
        args.put("volume", volume);
        args.put("snapshot", snapshot);
        args.put("force", force);
        if (keepCurrent != null) {
            args.put("keepCurrent", keepCurrent);
        }
        return as(call("revert", args), VolumeInfo.class);
    }

    public void revertGroup(String group, boolean force) throws IOException {
        call("revertGroup", Map.of("group", group, "force", force));
    }

    public VolumeInfo clone(String volume, String snapshot, String newVolume) throws IOException {
        return as(call("clone", Map.of("volume", volume, "snapshot", snapshot, "newVolume", newVolume)), VolumeInfo.class);
    }

    /**
     * Destroys a volume ({@code "vm1"}) or a snapshot ({@code "vm1@s1"}); refused with
     * {@link VolumeBusyException} while clients use it, unless {@code force}.
     */
    public void destroy(String target, boolean recursive, boolean force) throws IOException {
        call("destroy", Map.of("target", target, "recursive", recursive, "force", force));
    }

    /** Runs the collector now, in the server, while clients stay connected. */
    public GcReport gc() throws IOException {
        return as(call("gc", null), GcReport.class);
    }

    /** As {@link #gc()}, compacting segments whose live share is below {@code victimUtilization}. */
    public GcReport gc(double victimUtilization) throws IOException {
        return as(call("gc", Map.of("victimUtilization", victimUtilization)), GcReport.class);
    }

    /**
     * Stops the server's background collector (a pass under way finishes); {@link #gc()} still
     * works.
     *
     * @return whether it was paused already
     */
    public boolean gcPause() throws IOException {
        return call("gcPause", null).path("wasPaused").asBoolean();
    }

    /**
     * Lets the server's background collector run again.
     *
     * @return whether it was paused
     */
    public boolean gcResume() throws IOException {
        return call("gcResume", null).path("wasPaused").asBoolean();
    }

    /** Referenced and exclusive bytes of every volume and snapshot, as {@link dev.varve.engine.Store#space()}. */
    public List<SpaceInfo> space() throws IOException {
        return as(call("space", null), new TypeReference<List<SpaceInfo>>() { });
    }

    /** Live bytes, garbage and what a collection would reclaim, as {@link dev.varve.engine.Store#spaceSummary()}. */
    public SpaceSummary spaceSummary() throws IOException {
        return as(call("spaceSummary", null), SpaceSummary.class);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
