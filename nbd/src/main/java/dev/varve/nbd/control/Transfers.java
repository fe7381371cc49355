package dev.varve.nbd.control;

import com.fasterxml.jackson.databind.JsonNode;
import dev.varve.engine.BlockDevice;
import dev.varve.engine.ByteRange;
import dev.varve.engine.ReceiveOptions;
import dev.varve.engine.Store;
import dev.varve.engine.Volume;
import dev.varve.engine.stream.ResumeToken;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The control requests that move bytes, in {@link Frames}: out of the store (a device's bytes,
 * its allocated runs for a sparse export, a diff's ranges, a send stream) and into it (write,
 * import, receive). Memory stays bounded by one frame each way whatever the size moved.
 *
 * <pre>
 *   {"op":"read","device":D,"offset":O,"length":L}   header: device; DATA in order; result {"bytes"}
 *   {"op":"readAllocated","device":D}                header: device; DATA of allocated runs, PROGRESS
 *   {"op":"diff","from":F,"to":T}                    header {"size","count"}; DATA: (offset,length) u64 pairs
 *   {"op":"send","snapshot":S,"from":B,"resumeToken":R}  DATA: the stream, PROGRESS; result SendResult
 *   {"op":"write","volume":V,"force":F}              header: device; DATA at their offsets; result {"written"}
 *   {"op":"import","volume":V,"size":N,"blockSize":B}  header: VolumeInfo; DATA at their offsets
 *   {"op":"receive","volume":V,"force":F,"resumable":R,"resume":S}  DATA: the stream; result ReceiveResult
 * </pre>
 *
 * <p>A write goes only to a volume no NBD client uses (unless forced, which disconnects them);
 * an import makes a volume no client can reach until it is complete; a receive is refused
 * while clients use the volume it would change (its force discards the head's changes, a
 * different thing). Each keeps new clients off the volume while it runs.
 */
final class Transfers {
    static final String OPS = "read, readAllocated, diff, send, write, import, receive";
    /** mapAllocation is asked about this much at a time, so a fragmented device's run list stays small. */
    private static final long MAP_WINDOW = 1L << 30;
    /** A send stream's small writes are gathered into frames of this size. */
    private static final int STREAM_BUFFER = 256 << 10;
    /** Progress frames go at most this often (in bytes moved), and at the end. */
    private static final long PROGRESS_STEP = 1 << 20;
    private static final int RANGE_BYTES = 2 * Long.BYTES;

    private final Store store;
    private final ControlServer control;

    Transfers(Store store, ControlServer control) {
        this.store = store;
        this.control = control;
    }

    static boolean handles(String op) {
        return switch (op) {
            case "read", "readAllocated", "diff", "send", "write", "import", "receive" -> true;
            default -> false;
        };
    }

    void run(String op, JsonNode req, DataInputStream in, DataOutputStream out) throws IOException {
        switch (op) {
            case "write" -> write(req, in, out);
            case "import" -> importVolume(req, in, out);
            case "receive" -> receive(req, in, out);
            default -> download(op, req, out);
        }
    }

    // ------------------------------------------------------------------ out of the store

    /** What a download sends: its header at once, then its body's frames. */
    private record Download(Object header, Body body) {
    }

    @FunctionalInterface
    private interface Body {
        Object send(Outbound o) throws IOException;
    }

    private void download(String op, JsonNode req, DataOutputStream out) throws IOException {
        Download d;
        try {
            d = switch (op) {
                case "read" -> read(req);
                case "readAllocated" -> readAllocated(req);
                case "diff" -> diff(req);
                case "send" -> send(req);
                default -> throw new IllegalStateException("invariant violated: no download '" + op + "'");
            };
        } catch (IOException | RuntimeException e) {
            JsonLines.write(out, ControlServer.error(e));
            return;
        }
        JsonLines.write(out, ControlServer.ok(d.header()));
        Outbound o = new Outbound(out);
        Object result;
        try {
            result = d.body().send(o);
            o.flush();
        } catch (IOException | RuntimeException e) {
            if (o.broken) {
                // the client is gone (or stopped reading): nobody to tell
                throw e instanceof IOException io ? io : new IOException(e);
            }
            out.writeByte(Frames.END);
            JsonLines.write(out, ControlServer.error(e));
            return;
        }
        out.writeByte(Frames.END);
        JsonLines.write(out, ControlServer.ok(result));
    }

    private Download read(JsonNode req) throws IOException {
        String spec = text(req, "device");
        BlockDevice d = store.device(spec);
        long size = d.size();
        long offset = req.path("offset").asLong(0);
        if (offset < 0 || offset > size) {
            throw new IllegalArgumentException("offset " + offset + " is past the end of " + spec + " (" + size
                    + " bytes)");
        }
        long len = req.hasNonNull("length") ? req.get("length").asLong() : size - offset;
        if (len < 0 || len > size - offset) {
            throw new IllegalArgumentException("offset " + offset + " plus length " + len + " runs past the end of "
                    + spec + " (" + size + " bytes)");
        }
        return new Download(ControlServer.deviceFacts(d), o -> {
            byte[] buf = new byte[(int) Math.min(Frames.MAX_DATA, Math.max(len, 1))];
            for (long done = 0; done < len; ) {
                int n = (int) Math.min(buf.length, len - done);
                d.read(offset + done, ByteBuffer.wrap(buf, 0, n));
                o.data(offset + done, buf, n);
                done += n;
            }
            return Map.of("bytes", len);
        });
    }

    /**
     * The allocated runs of a device, in chunks of at most a frame, each at its offset: what a
     * sparse export writes (the client skips all-zero blocks, as when it reads the store itself).
     */
    private Download readAllocated(JsonNode req) throws IOException {
        BlockDevice d = store.device(text(req, "device"));
        return new Download(ControlServer.deviceFacts(d), o -> {
            long size = d.size();
            byte[] buf = new byte[Frames.MAX_DATA];
            o.progress(0, size);
            for (long window = 0; window < size; window += MAP_WINDOW) {
                List<long[]> runs = new ArrayList<>();
                d.mapAllocation(window, Math.min(MAP_WINDOW, size - window), (off, len, allocated) -> {
                    if (allocated) {
                        runs.add(new long[] {off, len});
                    }
                });
                for (long[] run : runs) {
                    for (long pos = run[0], end = run[0] + run[1]; pos < end; ) {
                        int n = (int) Math.min(buf.length, end - pos);
                        d.read(pos, ByteBuffer.wrap(buf, 0, n));
                        o.data(pos, buf, n);
                        pos += n;
                        o.progress(pos, size);
                    }
                }
                o.progress(Math.min(size, window + MAP_WINDOW), size);
            }
            return Map.of("size", size);
        });
    }

    private Download diff(JsonNode req) throws IOException {
        String from = text(req, "from");
        String to = text(req, "to");
        List<ByteRange> ranges = store.diff(from, to);
        long size = Math.max(store.device(from).size(), store.device(to).size());
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("size", size);
        header.put("count", ranges.size());
        return new Download(header, o -> {
            // (offset, length) pairs, a frame's worth at a time: a diff of a fragmented volume
            // can be longer than a JSON line may be
            ByteBuffer b = ByteBuffer.allocate(Frames.MAX_DATA / RANGE_BYTES * RANGE_BYTES);
            long index = 0;
            for (ByteRange r : ranges) {
                b.putLong(r.offset()).putLong(r.length());
                if (!b.hasRemaining()) {
                    o.data(index, b.array(), b.position());
                    index += b.position() / RANGE_BYTES;
                    b.clear();
                }
            }
            if (b.position() > 0) {
                o.data(index, b.array(), b.position());
            }
            return Map.of("count", ranges.size());
        });
    }

    private Download send(JsonNode req) throws IOException {
        String snapshot = text(req, "snapshot");
        String base = req.path("from").isTextual() ? req.get("from").asText() : null;
        ResumeToken resume = req.path("resumeToken").isTextual() ? ResumeToken.parse(req.get("resumeToken").asText())
                : null;
        int at = snapshot.indexOf('@');
        if (at <= 0 || at == snapshot.length() - 1) {
            throw new IllegalArgumentException("'" + snapshot + "' is not VOLUME@SNAPSHOT");
        }
        // the snapshot must exist before the client makes a file for it
        store.snapshotInfo(snapshot.substring(0, at), snapshot.substring(at + 1));
        return new Download(Map.of(), o -> store.send(snapshot, base, resume, o, o::progress));
    }

    /**
     * The frames of a download. As an OutputStream (what a send writes to) it gathers small
     * writes into frames. Any failure to write marks it broken: the client is gone.
     */
    private static final class Outbound extends OutputStream {
        private final DataOutputStream out;
        private final byte[] pending = new byte[STREAM_BUFFER];
        private int count;
        private long position;
        private long lastProgress = -1;
        boolean broken;

        Outbound(DataOutputStream out) {
            this.out = out;
        }

        /** Bytes at {@code offset}, in frames of at most {@link Frames#MAX_DATA}. */
        void data(long offset, byte[] b, int len) throws IOException {
            data(offset, b, 0, len);
        }

        private void data(long offset, byte[] b, int off, int len) throws IOException {
            try {
                for (int done = 0; done < len; ) {
                    int n = Math.min(Frames.MAX_DATA, len - done);
                    Frames.writeData(out, offset + done, b, off + done, n);
                    done += n;
                }
            } catch (IOException e) {
                broken = true;
                throw e;
            }
        }

        void progress(long done, long total) {
            if (broken || (done != total && lastProgress >= 0 && done - lastProgress < PROGRESS_STEP)) {
                return;
            }
            lastProgress = done;
            try {
                Frames.writeCounts(out, Frames.PROGRESS, done, total);
            } catch (IOException e) {
                // the next data frame fails the same way and ends the transfer
                broken = true;
            }
        }

        @Override
        public void write(int b) throws IOException {
            if (count == pending.length) {
                flushPending();
            }
            pending[count++] = (byte) b;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (len >= pending.length) {
                flushPending();
                data(position, b, off, len);
                position += len;
                return;
            }
            if (len > pending.length - count) {
                flushPending();
            }
            System.arraycopy(b, off, pending, count, len);
            count += len;
        }

        private void flushPending() throws IOException {
            if (count > 0) {
                data(position, pending, 0, count);
                position += count;
                count = 0;
            }
        }

        /** Sends what is gathered; the socket itself is flushed at the end of the transfer. */
        @Override
        public void flush() throws IOException {
            flushPending();
        }

        @Override
        public void close() throws IOException {
            flushPending();
        }
    }

    // ------------------------------------------------------------------ into the store

    @FunctionalInterface
    private interface Upload {
        /** Runs once the header is sent; answers the client through {@code inbound} itself. */
        void run(Inbound inbound) throws IOException;
    }

    /**
     * Runs an upload under {@link ControlServer#changing}: a refusal, or a failure before the
     * header, is the request's error line; after the header {@code upload} answers for itself.
     */
    private void upload(DataInputStream in, DataOutputStream out, String volume, List<String> exports, boolean force,
                        boolean forcible, String what, HeaderFor header, Upload upload) throws IOException {
        boolean[] started = {false};
        try {
            control.changing(List.of(volume), exports, force, forcible, what, () -> {
                Object h = header.make();
                JsonLines.write(out, ControlServer.ok(h));
                started[0] = true;
                upload.run(new Inbound(in, out));
                return null;
            });
        } catch (IOException | RuntimeException e) {
            if (started[0]) {
                throw e; // the connection is lost: Inbound has said what it could
            }
            JsonLines.write(out, ControlServer.error(e));
        }
    }

    @FunctionalInterface
    private interface HeaderFor {
        Object make() throws IOException;
    }

    private void write(JsonNode req, DataInputStream in, DataOutputStream out) throws IOException {
        String name = text(req, "volume");
        Volume[] v = {null};
        upload(in, out, name, List.of(name), req.path("force").asBoolean(false), true, "write to " + name, () -> {
            v[0] = store.volume(name);
            return ControlServer.deviceFacts(v[0]);
        }, inbound -> {
            long written;
            try {
                written = writeFrames(inbound, v[0]);
            } catch (IOException | RuntimeException e) {
                // what was written stays, and is made durable, as when the CLI writes itself
                flushQuietly(v[0]);
                inbound.fail(e);
                return;
            }
            inbound.finish(Map.of("written", written));
        });
    }

    /** Writes every frame of an upload to {@code v} at its offset, then flushes; the bytes written. */
    private static long writeFrames(Inbound inbound, Volume v) throws IOException {
        long written = 0;
        while (inbound.next()) {
            v.write(inbound.offset(), ByteBuffer.wrap(inbound.buffer(), 0, inbound.length()));
            written += inbound.length();
            inbound.progress(written, -1);
        }
        v.flush();
        return written;
    }

    private void importVolume(JsonNode req, DataInputStream in, DataOutputStream out) throws IOException {
        String name = text(req, "volume");
        long size = req.path("size").asLong(-1);
        int blockSize = req.path("blockSize").asInt(4096);
        Volume[] v = {null};
        // a volume made here has no clients; the fence keeps them off until it is complete
        upload(in, out, name, List.of(), false, false, "import " + name, () -> {
            v[0] = store.createVolume(name, size, blockSize);
            return store.volumeInfo(name);
        }, inbound -> {
            try {
                writeFrames(inbound, v[0]);
            } catch (IOException | RuntimeException e) {
                // half an image must not pass for a whole one
                try {
                    store.destroyVolume(name, true);
                } catch (IOException | RuntimeException d) {
                    control.log("varve serve: could not destroy the partly imported volume " + name + ": "
                            + d.getMessage());
                }
                inbound.fail(e);
                return;
            }
            inbound.finish(null);
        });
    }

    private void receive(JsonNode req, DataInputStream in, DataOutputStream out) throws IOException {
        String name = text(req, "volume");
        boolean force = req.path("force").asBoolean(false);
        boolean resumable = req.path("resumable").asBoolean(false);
        boolean resume = req.path("resume").asBoolean(false);
        // a receive moves the head of an existing volume: not under clients that use it
        upload(in, out, name, List.of(name), false, false, "receive into " + name, Map::of, inbound -> {
            Object result;
            try {
                result = store.receive(inbound.stream(), name,
                        new ReceiveOptions(force, resumable, resume, inbound::progress));
            } catch (IOException | RuntimeException e) {
                inbound.fail(e);
                return;
            }
            inbound.finish(result);
        });
    }

    private static void flushQuietly(Volume v) {
        try {
            v.flush();
        } catch (IOException | RuntimeException e) {
            // the failure being reported says more
        }
    }

    private static String text(JsonNode req, String field) {
        JsonNode n = req.get(field);
        if (n == null || !n.isTextual()) {
            throw new IllegalArgumentException("the request needs a text field \"" + field + "\"");
        }
        return n.asText();
    }
}
