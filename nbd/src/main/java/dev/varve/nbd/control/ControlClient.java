package dev.varve.nbd.control;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.varve.engine.ByteRange;
import dev.varve.engine.CorruptionException;
import dev.varve.engine.GcReport;
import dev.varve.engine.HasSnapshotsException;
import dev.varve.engine.InvalidNameException;
import dev.varve.engine.NameExistsException;
import dev.varve.engine.NoSuchSnapshotException;
import dev.varve.engine.NoSuchVolumeException;
import dev.varve.engine.OutOfSpaceException;
import dev.varve.engine.ReadOnlyException;
import dev.varve.engine.SendResult;
import dev.varve.engine.SnapshotInfo;
import dev.varve.engine.SpaceInfo;
import dev.varve.engine.SpaceSummary;
import dev.varve.engine.StoreClosedException;
import dev.varve.engine.StoreFailedException;
import dev.varve.engine.StoreInfo;
import dev.varve.engine.StreamProgress;
import dev.varve.engine.VolumeInfo;
import dev.varve.engine.stream.ResumeToken;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
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
 * {@link NameExistsException}, ...), {@link VolumeBusyException} for a change refused because
 * NBD clients use what it would change, or {@link ControlException} for anything else.
 *
 * <p>Bytes move in frames between the JSON lines ({@link Frames}): downloads ({@link #read},
 * {@link #readAllocated}, {@link #send}, {@link #diff}) hand them to a callback a megabyte at a
 * time; uploads ({@link #write}, {@link #importVolume}, {@link #receive}) are {@link Upload}s.
 *
 * <p>The wire format, one JSON object per line: a request {@code {"op":"snapshot",
 * "volume":"vm1","snapshot":"s1"}}, a reply {@code {"ok":true,"result":...}} or
 * {@code {"ok":false,"error":{"type":"NoSuchVolumeException","message":"..."}}}.
 */
public final class ControlClient implements AutoCloseable {
    private final SocketChannel channel;
    private final DataInputStream in;
    private final DataOutputStream out;

    /** Everything {@link #list()} returns: the catalog and who is connected to what. */
    public record Listing(List<VolumeInfo> volumes, List<SnapshotInfo> snapshots, Map<String, Integer> clients) {
    }

    /** What {@link #info()} returns. */
    public record ServerInfo(StoreInfo store, Map<String, Integer> clients, JsonNode stats) {
    }

    /** A volume head or snapshot as the server sees it. */
    public record Device(String name, long size, int blockSize, boolean readOnly) {
    }

    /** What {@link #resize} did; {@code clients}: NBD clients of the volume, which still see the old size. */
    public record Resized(long oldSize, long size, int clients) {
    }

    /** What {@link #diff} returns: the ranges, and the larger of the two sizes. */
    public record Diff(List<ByteRange> ranges, long size) {
    }

    /** Takes a download's bytes as they come; {@code b} is reused for the next chunk. */
    @FunctionalInterface
    public interface Chunks {
        void accept(long offset, byte[] b, int length) throws IOException;
    }

    private ControlClient(SocketChannel channel) {
        this.channel = channel;
        this.in = new DataInputStream(new BufferedInputStream(Channels.newInputStream(channel)));
        this.out = new DataOutputStream(new BufferedOutputStream(Channels.newOutputStream(channel)));
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
        return reply();
    }

    /** The next reply line's result, or its error thrown. */
    JsonNode reply() throws IOException {
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

    DataInputStream input() {
        return in;
    }

    DataOutputStream output() {
        return out;
    }

    /**
     * The connection is out of step or gone in the middle of a transfer: closes it (a server
     * still sending stops when it notices) and says so.
     */
    ControlException lost(IOException e) {
        closeQuietly();
        return new ControlException(null, "lost the connection to the running 'varve serve' in the middle of a"
                + " transfer: " + e.getMessage());
    }

    void closeQuietly() {
        try {
            channel.close();
        } catch (IOException e) {
            // closed is what is wanted
        }
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
            case "SnapshotBusyException" -> {
                return new dev.varve.engine.SnapshotBusyException(message);
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

    static <T> T as(JsonNode n, Class<T> type) throws IOException {
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

    /** A volume head ({@code "vm1"}) or snapshot ({@code "vm1@s1"}): its size and block size. */
    public Device device(String spec) throws IOException {
        return as(call("device", Map.of("device", spec)), Device.class);
    }

    /**
     * Renames a volume ({@code "vm1"}, its snapshots' export names change with it) or a snapshot
     * ({@code "vm1@s1"}, {@code newName} a bare snapshot name). Refused with
     * {@link VolumeBusyException} while NBD clients use what is renamed, unless {@code force},
     * which disconnects them once the rename is done.
     */
    public void rename(String target, String newName, boolean force) throws IOException {
        call("rename", Map.of("target", target, "newName", newName, "force", force));
    }

    /** The properties of {@code "VOL"} or {@code "VOL@SNAP"}, sorted by key. */
    public Map<String, String> properties(String target) throws IOException {
        return as(call("properties", Map.of("target", target)), new TypeReference<LinkedHashMap<String, String>>() { });
    }

    /** Sets properties in the order given, then removes {@code unset}; returns them all. */
    public Map<String, String> setProperties(String target, Map<String, String> set, List<String> unset)
            throws IOException {
        return as(call("setProperties", Map.of("target", target, "properties", set, "unset", unset)),
                new TypeReference<LinkedHashMap<String, String>>() { });
    }

    /**
     * Resizes a volume. NBD clients learn a size when they connect: growing leaves them as they
     * are (they see the new size when they reconnect); shrinking under them is refused with
     * {@link VolumeBusyException} unless {@code force}, which disconnects them first.
     */
    public Resized resize(String volume, long size, boolean force) throws IOException {
        return as(call("resize", Map.of("volume", volume, "size", size, "force", force)), Resized.class);
    }

    /**
     * The store's size limit (0: none), after setting it to {@code maxSize} when that is not null.
     */
    public long limit(Long maxSize) throws IOException {
        Map<String, Object> args = new HashMap<>();
        if (maxSize != null) {
            args.put("maxSize", maxSize);
        }
        return call("limit", args).path("maxSize").asLong();
    }

    /** Where an interrupted resumable receive into {@code volume} stopped, or null. */
    public ResumeToken receiveToken(String volume) throws IOException {
        JsonNode t = call("receiveToken", Map.of("volume", volume));
        return t.isTextual() ? ResumeToken.parse(t.asText()) : null;
    }

    public void abortReceive(String volume) throws IOException {
        call("abortReceive", Map.of("volume", volume));
    }

    // ------------------------------------------------------------------ downloads

    /**
     * The bytes {@code [offset, offset + length)} of a volume head or snapshot, in order, a
     * megabyte at a time.
     *
     * @param length -1: to the end
     */
    public Device read(String spec, long offset, long length, Chunks to) throws IOException {
        Map<String, Object> args = new HashMap<>();
        args.put("device", spec);
        args.put("offset", offset);
        if (length >= 0) {
            args.put("length", length);
        }
        return as(download("read", args, to, StreamProgress.NONE)[0], Device.class);
    }

    /**
     * The allocated runs of a volume head or snapshot, each chunk at its offset (holes are not
     * sent): what a sparse export writes. {@code progress} hears the position against the size.
     *
     * @return the device as it was read
     */
    public Device readAllocated(String spec, Chunks to, StreamProgress progress) throws IOException {
        return as(download("readAllocated", Map.of("device", spec), to, progress)[0], Device.class);
    }

    /** As {@link dev.varve.engine.Store#diff}, with the larger of the two sizes. */
    public Diff diff(String from, String to) throws IOException {
        List<ByteRange> ranges = new ArrayList<>();
        JsonNode header = download("diff", Map.of("from", from, "to", to), (index, b, len) -> {
            ByteBuffer bb = ByteBuffer.wrap(b, 0, len);
            while (bb.remaining() >= 2 * Long.BYTES) {
                ranges.add(new ByteRange(bb.getLong(), bb.getLong()));
            }
        }, StreamProgress.NONE)[0];
        if (ranges.size() != header.path("count").asLong()) {
            throw new ControlException(null, "the server announced " + header.path("count") + " diff ranges and sent "
                    + ranges.size());
        }
        return new Diff(ranges, header.path("size").asLong());
    }

    /** As {@link dev.varve.engine.Store#send}: the stream goes to {@code out} as the server makes it. */
    public SendResult send(String snapshot, String from, ResumeToken resume, OutputStream to, StreamProgress progress)
            throws IOException {
        Map<String, Object> args = new HashMap<>();
        args.put("snapshot", snapshot);
        if (from != null) {
            args.put("from", from);
        }
        if (resume != null) {
            args.put("resumeToken", resume.toString());
        }
        return as(download("send", args, (pos, b, len) -> to.write(b, 0, len), progress)[1], SendResult.class);
    }

    /**
     * Runs a download (see {@link Frames}): its header, then its chunks and progress, then its
     * result. When {@code to} or {@code progress} fails, the connection is closed, which stops
     * the server, and the failure is rethrown.
     *
     * @return the header and the result
     */
    private synchronized JsonNode[] download(String op, Map<String, ?> args, Chunks to, StreamProgress progress)
            throws IOException {
        JsonNode header = call(op, args);
        byte[] buf = null;
        long[] offset = new long[1];
        while (true) {
            int type;
            int len = 0;
            long done = 0;
            long total = 0;
            try {
                type = Frames.readType(in);
                switch (type) {
                    case Frames.DATA -> {
                        if (buf == null) {
                            buf = new byte[Frames.MAX_DATA];
                        }
                        len = Frames.readData(in, buf, offset);
                    }
                    case Frames.PROGRESS -> {
                        done = in.readLong();
                        total = in.readLong();
                    }
                    case Frames.END -> {
                        // the result, or the error that cut the transfer short
                    }
                    default -> throw Frames.unexpected(type, "in a download");
                }
            } catch (IOException e) {
                throw lost(e);
            }
            if (type == Frames.END) {
                return new JsonNode[] {header, reply()};
            }
            try {
                if (type == Frames.DATA) {
                    to.accept(offset[0], buf, len);
                } else {
                    progress.update(done, total);
                }
            } catch (IOException | RuntimeException | Error e) {
                closeQuietly();
                throw e;
            }
        }
    }

    // ------------------------------------------------------------------ uploads

    /**
     * Writes into a volume: {@link Upload#write} each chunk at its offset, then
     * {@link Upload#finish}. The header is the volume as a {@link Device}. Refused with
     * {@link VolumeBusyException} while NBD clients use the volume, unless {@code force}, which
     * disconnects them; new clients are kept off until the upload ends.
     */
    public Upload write(String volume, boolean force) throws IOException {
        return upload("write", Map.of("volume", volume, "force", force), StreamProgress.NONE);
    }

    /**
     * Makes a volume and writes into it; closing the upload unfinished (or a failure) destroys it.
     * The header is its {@link VolumeInfo}.
     */
    public Upload importVolume(String volume, long size, int blockSize) throws IOException {
        return upload("import", Map.of("volume", volume, "size", size, "blockSize", blockSize), StreamProgress.NONE);
    }

    /**
     * As {@link dev.varve.engine.Store#receive}: {@link Upload#write} the stream's bytes in
     * order, then {@link Upload#finish} with {@link dev.varve.engine.ReceiveResult}.
     * {@code progress} hears the server's count against the stream's total. Refused with
     * {@link VolumeBusyException} while NBD clients use the volume.
     */
    public Upload receive(String volume, boolean force, boolean resumable, boolean resume, StreamProgress progress)
            throws IOException {
        return upload("receive", Map.of("volume", volume, "force", force, "resumable", resumable, "resume", resume),
                progress);
    }

    private synchronized Upload upload(String op, Map<String, ?> args, StreamProgress progress) throws IOException {
        return new Upload(this, call(op, args), progress);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
