package dev.varve.engine;

import dev.varve.engine.stream.Crc32cShift;
import dev.varve.engine.stream.FrameWriter;
import dev.varve.engine.stream.ResumeToken;
import dev.varve.engine.stream.StreamHeader;
import dev.varve.engine.stream.StreamLayout;
import dev.varve.engine.stream.StreamMismatchException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.UUID;

/**
 * Writes a snapshot as a send stream. A full stream carries every allocated range (holes are
 * simply not sent); an incremental carries the ranges {@link Diff} finds between the base and
 * the snapshot, each as DATA where the snapshot has data and HOLE where it has none. Frames
 * come in offset order, so a stream resumed at an offset is the same stream without its
 * beginning.
 */
final class Send {
    /** The allocation map is asked about this much at a time, so a fragmented volume's run list stays small. */
    private static final long WINDOW = 1L << 30;

    private final Store store;
    private final String snapshotSpec;
    private final String baseSpec;
    private final ResumeToken resume;
    private final StreamProgress progress;

    private MappedDevice device;
    private FrameWriter out;
    private byte[] buf;
    private ByteBuffer blocks;
    private int[] crcs;
    private Crc32cShift shift;
    private long total;
    private long pendingHole = -1;
    private long pendingHoleEnd;

    Send(Store store, String snapshot, String base, ResumeToken resume, StreamProgress progress) {
        this.store = store;
        this.snapshotSpec = snapshot;
        this.baseSpec = base;
        this.resume = resume;
        this.progress = progress == null ? StreamProgress.NONE : progress;
    }

    SendResult run(OutputStream stream) throws IOException {
        return run(new FrameWriter(stream));
    }

    SendResult run(WritableByteChannel channel) throws IOException {
        return run(new FrameWriter(channel));
    }

    private SendResult run(FrameWriter writer) throws IOException {
        SnapshotInfo snap = snapshot(snapshotSpec, "send");
        SnapshotInfo base = null;
        if (baseSpec != null) {
            base = snapshot(baseSpec.indexOf('@') < 0 ? snap.volume() + "@" + baseSpec : baseSpec, "--from");
            if (base.id() == snap.id()) {
                throw new IllegalArgumentException("--from names " + snap.fullName() + " itself; an incremental needs"
                        + " an earlier snapshot as its base");
            }
            if (base.blockSize() != snap.blockSize()) {
                throw new IllegalArgumentException(base.fullName() + " has " + base.blockSize() + "-byte blocks and "
                        + snap.fullName() + " " + snap.blockSize() + "; an incremental needs the same block size");
            }
        }
        // destroying what is being sent is refused until the stream ends
        try (java.io.Closeable held = store.holdForSend(snap.id());
                java.io.Closeable heldBase = base == null ? () -> { } : store.holdForSend(base.id())) {
            return send(writer, snap, base);
        }
    }

    private SendResult send(FrameWriter writer, SnapshotInfo snap, SnapshotInfo base) throws IOException {
        UUID guid = store.snapshotGuid(snap.fullName());
        UUID baseGuid = base == null ? null : store.snapshotGuid(base.fullName());
        UUID parentGuid = snap.parent() == null ? null : store.snapshotGuid(snap.parent());
        long start = 0;
        if (resume != null) {
            if (!resume.snapshotGuid().equals(guid) || !Objects.equals(resume.baseGuid(), baseGuid)) {
                throw new StreamMismatchException("the resume token is for another stream (snapshot "
                        + resume.snapshotGuid() + (resume.baseGuid() == null ? ", full" : ", from " + resume.baseGuid())
                        + "), not " + snap.fullName() + " (" + guid + ")"
                        + (base == null ? "" : " from " + base.fullName() + " (" + baseGuid + ")")
                        + "; give the same snapshot and --from as the interrupted send");
            }
            if (resume.offset() > snap.size() || resume.offset() % snap.blockSize() != 0) {
                throw new StreamMismatchException("the resume token's offset " + resume.offset() + " does not fit "
                        + snap.fullName() + " (" + snap.size() + " bytes, " + snap.blockSize() + "-byte blocks)");
            }
            start = resume.offset();
        }
        device = (MappedDevice) store.device(snap.fullName()); // a Volume or SnapshotDevice: sealed
        List<ByteRange> ranges;
        if (base == null) {
            ranges = List.of(new ByteRange(0, snap.size()));
        } else {
            ranges = store.diff(base.fullName(), snap.fullName());
        }
        ranges = clip(ranges, start, snap.size());
        total = 0;
        for (ByteRange r : ranges) {
            walk(r, (off, len, allocated) -> {
                if (allocated) {
                    total += len;
                }
            });
        }

        Map<String, String> props = new TreeMap<>(snap.properties());
        props.remove(StreamLayout.GUID_PROPERTY);
        props.remove(StreamLayout.RESUME_TOKEN_PROPERTY);
        out = writer;
        out.begin(new StreamHeader(StreamLayout.VERSION, guid, baseGuid, parentGuid, snap.size(), snap.blockSize(),
                resume != null, start, total, snap.createdMillis(), snap.volume(), snap.name(),
                base == null ? "" : base.name(), props));
        int bufBytes = (int) Math.min(StreamLayout.SEND_DATA_BYTES, Math.max(total, snap.blockSize()));
        if (bufBytes % snap.blockSize() == 0) {
            // whole blocks, read in place and checksummed once: the frame CRC is chained from the
            // block CRCs the read verified
            blocks = ByteBuffer.allocateDirect(bufBytes);
            crcs = new int[bufBytes / snap.blockSize()];
            shift = new Crc32cShift(snap.blockSize());
        } else {
            buf = new byte[bufBytes];
        }
        progress.update(0, total);
        boolean holes = base != null;
        for (ByteRange r : ranges) {
            walk(r, (off, len, allocated) -> {
                if (allocated) {
                    flushHole();
                    data(off, len);
                } else if (holes) {
                    hole(off, len);
                }
            });
        }
        flushHole();
        out.end();
        return new SendResult(snap.fullName(), base == null ? null : base.fullName(), guid, baseGuid, out.bytes(),
                out.dataBytes(), out.holeBytes(), out.frames());
    }

    private SnapshotInfo snapshot(String spec, String what) throws IOException {
        int at = spec.indexOf('@');
        if (at < 0) {
            throw new IllegalArgumentException(what + " takes a snapshot, VOLUME@SNAP, not '" + spec
                    + "'; snapshot the volume first");
        }
        return store.snapshotInfo(spec.substring(0, at), spec.substring(at + 1));
    }

    private static List<ByteRange> clip(List<ByteRange> ranges, long from, long to) {
        List<ByteRange> out = new ArrayList<>();
        for (ByteRange r : ranges) {
            long a = Math.max(r.offset(), from);
            long b = Math.min(r.end(), to);
            if (a < b) {
                out.add(new ByteRange(a, b - a));
            }
        }
        return out;
    }

    private void walk(ByteRange r, BlockDevice.AllocationVisitor v) throws IOException {
        for (long w = r.offset(); w < r.end(); w += WINDOW) {
            List<long[]> runs = new ArrayList<>();
            device.mapAllocation(w, Math.min(WINDOW, r.end() - w),
                    (off, len, allocated) -> runs.add(new long[] {off, len, allocated ? 1 : 0}));
            for (long[] run : runs) {
                v.run(run[0], run[1], run[2] == 1);
            }
        }
    }

    private void data(long offset, long length) throws IOException {
        if (blocks != null && offset % shift.length() == 0 && length % shift.length() == 0) {
            for (long pos = offset, end = offset + length; pos < end; ) {
                int n = (int) Math.min(blocks.capacity(), end - pos);
                blocks.clear().limit(n);
                device.readBlocks(pos, blocks, crcs);
                blocks.flip();
                out.dataBlocks(pos, blocks, crcs, shift);
                pos += n;
                progress.update(out.dataBytes(), total);
            }
            return;
        }
        if (buf == null) {
            buf = new byte[blocks.capacity()];
        }
        for (long pos = offset, end = offset + length; pos < end; ) {
            int n = (int) Math.min(buf.length, end - pos);
            device.read(pos, ByteBuffer.wrap(buf, 0, n));
            out.data(pos, buf, 0, n);
            pos += n;
            progress.update(out.dataBytes(), total);
        }
    }

    /** Adjacent holes (split by allocation windows) become one HOLE frame. */
    private void hole(long offset, long length) throws IOException {
        if (pendingHole >= 0 && pendingHoleEnd == offset) {
            pendingHoleEnd += length;
            return;
        }
        flushHole();
        pendingHole = offset;
        pendingHoleEnd = offset + length;
    }

    private void flushHole() throws IOException {
        if (pendingHole >= 0) {
            out.hole(pendingHole, pendingHoleEnd - pendingHole);
            pendingHole = -1;
        }
    }
}
