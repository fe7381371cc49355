package dev.varve.engine.log;

import dev.varve.engine.CorruptionException;
import dev.varve.engine.LogAddress;
import dev.varve.engine.OutOfSpaceException;
import dev.varve.engine.format.FillLayout;
import dev.varve.engine.format.FormatVersion;
import dev.varve.engine.format.RecordLayout;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.io.Storage;
import dev.varve.engine.io.StorageFile;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.zip.CRC32C;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The append-only log: numbered segment files of two kinds. Data segments hold raw,
 * block-aligned data blocks and nothing else, so a guest's bytes can never be mistaken for a
 * record; meta segments hold checksummed records (tree nodes, data summaries, commits) read
 * front to back. Each kind has one head that grows; full segments are never written again.
 */
public final class Log implements Closeable {
    private final Storage storage;
    private final long uuidHi;
    private final long uuidLo;
    private final long segmentSize;
    private final Map<Long, Segment> segments = new ConcurrentHashMap<>();
    /** Segment files whose header is unusable, with why; an error only if something points in. */
    private final Map<Long, String> unusable = new ConcurrentHashMap<>();
    private Set<Segment> dirtyData = ConcurrentHashMap.newKeySet();
    /** Data segments users wrote since they were last forced (by a commit or a flush's intent). */
    private Set<Segment> unforcedData = ConcurrentHashMap.newKeySet();
    /**
     * Data segments the compactor wrote since they were last forced. Only a commit forces them:
     * nothing a flush makes durable points at moved data, so a user's flush does not wait for
     * the compactor's writeback.
     */
    private Set<Segment> unforcedMoved = ConcurrentHashMap.newKeySet();
    private long nextSegmentId;
    /**
     * Data segment files the collector freed, kept under their old names for the next data
     * segment instead of deleted (as databases recycle WAL files): rewriting blocks a file
     * already has costs the file system no allocation, and forcing them changes no file size,
     * so a flush needs no journal commit. Guarded by this.
     */
    private final java.util.ArrayDeque<Recycled> recycled = new java.util.ArrayDeque<>();
    private volatile int recycleLimit;

    private record Recycled(String name, long size) {
    }
    private final java.util.concurrent.atomic.AtomicLong appended = new java.util.concurrent.atomic.AtomicLong();

    /** User writes predicted to die young (they replace data written a short while ago). */
    public static final int HOT = 0;
    /** User writes predicted to live long (first writes, or replacing old data). */
    public static final int WARM = 1;
    /** Data the compactor moves: it has outlived at least one collection already. */
    public static final int COLD = 2;

    private final Object dataLock = new Object();
    /** The open data segment of each stream (HOT, WARM, COLD), and where its next write goes. */
    private final Segment[] dataHeads = new Segment[3];
    private final long[] dataPos = new long[3];
    private volatile long segmentLimit;

    Segment metaHead;
    long metaPos;
    /** Where the fill written ahead of the meta head ends (0: none known); a page boundary. */
    long metaFilledTo;
    /** Bytes after the meta head's end that are not a clean end: a torn group recovery stepped over. */
    boolean metaTail;

    /**
     * Bytes of a data stream's write-back window. Small writes are copied into the window of
     * their stream and reach the segment file in one positional write when the window fills,
     * when a flush or a commit needs them durable, or when a large write passes them: a random
     * 4 KiB write then costs a copy instead of a system call.
     */
    public static final int WINDOW_BYTES = 1 << 20;
    /** Runs larger than this are written straight to the file. */
    static final int WINDOW_MAX_RUN = 128 << 10;
    /** The window each stream is filling; guarded by dataLock. */
    private final Window[] windows = new Window[3];
    /** Every window whose bytes are not in the file yet (readers look here first). */
    private final java.util.concurrent.CopyOnWriteArrayList<Window> unwritten =
            new java.util.concurrent.CopyOnWriteArrayList<>();
    /** Buffers of written windows, for the next ones; guarded by dataLock. */
    private final java.util.ArrayDeque<ByteBuffer> spareBuffers = new java.util.ArrayDeque<>();
    /** The first failed window write: the bytes of writes already acknowledged are lost. */
    private volatile IOException windowFailure;

    /**
     * A range of a data head's segment, {@code [start, end)}, held in memory until written.
     * Allocations in it copy their bytes in ({@code inflight} counts those not copied yet).
     */
    private static final class Window {
        final Segment segment;
        final int stream;
        final long start;
        final ByteBuffer buf;
        volatile long end; // moved under dataLock while the window is a stream's, fixed once detached
        int inflight; // guarded by this
        boolean written; // guarded by this

        Window(Segment segment, int stream, long start, ByteBuffer buf) {
            this.segment = segment;
            this.stream = stream;
            this.start = start;
            this.buf = buf;
            this.end = start;
        }
    }

    public Log(Storage storage, long uuidHi, long uuidLo, long segmentSize, long nextSegmentId) {
        this.storage = storage;
        this.uuidHi = uuidHi;
        this.uuidLo = uuidLo;
        this.segmentSize = segmentSize;
        this.nextSegmentId = nextSegmentId;
    }

    public Storage storage() {
        return storage;
    }

    public long segmentSize() {
        return segmentSize;
    }

    /** Opens every segment file present and checks its header. */
    public void openExisting() throws IOException {
        long max = 0;
        for (String name : storage.list()) {
            long id = SegmentLayout.parseFileName(name);
            if (id <= 0) {
                continue;
            }
            StorageFile f = storage.open(name, false);
            max = Math.max(max, id);
            try {
                int kind = readHeader(f, id);
                segments.put(id, new Segment(id, kind, f));
            } catch (CorruptionException e) {
                // a segment whose creation a crash interrupted holds nothing any commit can
                // point at; it is only an error if something does (reported on use, and by fsck)
                unusable.put(id, e.getMessage());
                f.close();
            }
        }
        synchronized (this) {
            nextSegmentId = Math.max(nextSegmentId, max + 1);
        }
    }

    private int readHeader(StorageFile f, long id) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(SegmentLayout.CRC_OFFSET + SegmentLayout.CRC_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        int n = f.read(b, 0);
        String what = null;
        if (n < b.capacity()) {
            what = "segment header is incomplete (" + n + " bytes)";
        } else if (b.getLong(SegmentLayout.MAGIC_OFFSET) != SegmentLayout.MAGIC) {
            what = "bad segment magic";
        } else if (crc(b, 0, SegmentLayout.CRC_OFFSET) != b.getInt(SegmentLayout.CRC_OFFSET)) {
            what = "segment header checksum mismatch";
        } else if (b.getLong(SegmentLayout.SEGMENT_ID_OFFSET) != id) {
            what = "segment header names segment " + b.getLong(SegmentLayout.SEGMENT_ID_OFFSET);
        } else if (b.getLong(SegmentLayout.UUID_OFFSET) != uuidHi || b.getLong(SegmentLayout.UUID_OFFSET + 8) != uuidLo) {
            what = "segment belongs to another store";
        } else if (b.getInt(SegmentLayout.FORMAT_OFFSET) > FormatVersion.CURRENT) {
            what = "segment format " + b.getInt(SegmentLayout.FORMAT_OFFSET) + " is newer than this Varve";
        }
        if (what != null) {
            throw new CorruptionException(f.path(), LogAddress.of(id, 0), what);
        }
        return b.getInt(SegmentLayout.KIND_OFFSET);
    }

    static int crc(ByteBuffer b, int from, int to) {
        CRC32C c = new CRC32C();
        ByteBuffer d = b.duplicate();
        d.position(from).limit(to);
        c.update(d);
        return (int) c.getValue();
    }

    /** The header of segment {@code id} of a store, checksummed (also what fsck's repair writes). */
    public static ByteBuffer segmentHeader(long id, int kind, long uuidHi, long uuidLo) {
        ByteBuffer b = ByteBuffer.allocate(SegmentLayout.HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(SegmentLayout.MAGIC_OFFSET, SegmentLayout.MAGIC);
        b.putInt(SegmentLayout.FORMAT_OFFSET, FormatVersion.CURRENT);
        b.putInt(SegmentLayout.KIND_OFFSET, kind);
        b.putLong(SegmentLayout.SEGMENT_ID_OFFSET, id);
        b.putLong(SegmentLayout.UUID_OFFSET, uuidHi);
        b.putLong(SegmentLayout.UUID_OFFSET + 8, uuidLo);
        b.putLong(SegmentLayout.CREATED_OFFSET, System.currentTimeMillis());
        b.putInt(SegmentLayout.CRC_OFFSET, crc(b, 0, SegmentLayout.CRC_OFFSET));
        return b;
    }

    /**
     * Creates a new segment file with its header, durable together with its directory entry. A
     * data segment reuses a recycled file when there is one: renamed to the new id, its header
     * rewritten; its old bytes are never read, as nothing points at them.
     */
    Segment createSegment(int kind) throws IOException {
        long id;
        Recycled reuse = null;
        synchronized (this) {
            if (kind == SegmentLayout.KIND_DATA) {
                reuse = recycled.pollFirst();
            }
            long limit = segmentLimit;
            // the last META_RESERVE segments under the cap are the metadata log's alone: a full
            // store can always roll its meta head to commit a destroy (data, users' or the
            // compactor's, never takes it)
            if (limit > 0 && kind == SegmentLayout.KIND_DATA) {
                limit = Math.max(1, limit - META_RESERVE);
            }
            // recycled files take disk space too: only a file that is not one counts anew
            if (reuse == null && limit > 0 && segments.size() + recycled.size() >= limit) {
                throw new OutOfSpaceException("the store is full: it has reached its size limit (" + segmentLimit
                        + " segments of " + segmentSize + " bytes"
                        + (limit < segmentLimit ? ", the last " + META_RESERVE + " kept for the metadata log" : "")
                        + "): destroy snapshots or volumes and run 'varve gc', or open it with a larger --max-size");
            }
            id = nextSegmentId++;
        }
        String name = SegmentLayout.fileName(id);
        StorageFile f;
        try {
            if (reuse != null) {
                // until the header below is durable the file names its old id, so a crash leaves
                // it unusable or dead under either name, never a segment anything points into
                storage.rename(reuse.name(), name);
            }
            f = storage.open(name, true);
        } catch (IOException e) {
            throw OutOfSpace.translate(e, "creating segment " + name);
        }
        ByteBuffer b = segmentHeader(id, kind, uuidHi, uuidLo);
        appended.addAndGet(b.remaining());
        try {
            f.write(b, 0);
            f.force();
            // the name must be durable before any commit can point into the file
            storage.syncDirectory();
        } catch (IOException e) {
            f.close();
            throw OutOfSpace.translate(e, "creating segment " + name);
        }
        Segment s = new Segment(id, kind, f);
        segments.put(id, s);
        return s;
    }

    /** How many freed data segment files may be kept for reuse (0: every freed file is deleted). */
    public void setRecycleLimit(int files) {
        this.recycleLimit = files;
    }

    /** Freed data segment files kept for reuse. */
    public synchronized int recycledCount() {
        return recycled.size();
    }

    /** Bytes of the freed data segment files kept for reuse. */
    public synchronized long recycledBytes() {
        long t = 0;
        for (Recycled r : recycled) {
            t += r.size();
        }
        return t;
    }

    /** Deletes every freed file kept for reuse, giving their space back to the file system. */
    public void releaseRecycled() throws IOException {
        List<Recycled> all;
        synchronized (this) {
            all = new ArrayList<>(recycled);
            recycled.clear();
        }
        if (all.isEmpty()) {
            return;
        }
        for (Recycled r : all) {
            storage.delete(r.name());
        }
        storage.syncDirectory();
    }

    public Segment segment(long id) throws CorruptionException {
        Segment s = segments.get(id);
        if (s == null && unusable.containsKey(id)) {
            throw new CorruptionException(storage.path(SegmentLayout.fileName(id)), LogAddress.of(id, 0), unusable.get(id));
        }
        if (s == null) {
            throw new CorruptionException(storage.path(SegmentLayout.fileName(id)), LogAddress.of(id, 0),
                    "segment file is missing");
        }
        return s;
    }

    /** Segment files with an unusable header, and why. */
    public Map<Long, String> unusableSegments() {
        return unusable;
    }

    public List<Segment> segments() {
        List<Segment> l = new ArrayList<>(segments.values());
        l.sort((a, b) -> Long.compare(a.id, b.id));
        return l;
    }

    // ---- data ----

    /**
     * Reserves {@code bytes} at the data head, aligned to {@code align}; a run never straddles
     * two segments.
     */
    /** Bytes written to segment files since this log was opened: data, moved data and metadata. */
    public long bytesAppended() {
        return appended.get();
    }

    void countAppended(long bytes) {
        appended.addAndGet(bytes);
    }

    public long allocateData(int bytes, int align) throws IOException {
        return allocateData(bytes, align, HOT, false);
    }

    /**
     * Reserves {@code bytes} at the head of one data stream. Data expected to die at about the
     * same time goes to the same segments (HOT, WARM, COLD), so that a segment empties as a
     * whole and the collector finds it nearly empty instead of moving long-lived data again
     * and again. Data the compactor moves ({@code moved}) is forced by commits only.
     */
    public long allocateData(int bytes, int align, int stream, boolean moved) throws IOException {
        Window detached = null;
        Window mine = null;
        Segment full = null;
        long address;
        synchronized (dataLock) {
            Segment head = dataHeads[stream];
            long p = -1;
            if (head != null) {
                long q = (dataPos[stream] + align - 1) & -(long) align;
                if (q + bytes <= segmentSize) {
                    p = q;
                }
            }
            if (p < 0) {
                full = head;
                head = createSegment(SegmentLayout.KIND_DATA);
                dataHeads[stream] = head;
                p = SegmentLayout.HEADER_BYTES;
            }
            dataPos[stream] = p + bytes;
            dirtyData.add(head);
            (moved ? unforcedMoved : unforcedData).add(head);
            address = LogAddress.of(head.id, p);
            Window w = windows[stream];
            if (w != null && (w.segment != head || bytes > WINDOW_MAX_RUN || p + bytes > w.start + WINDOW_BYTES)) {
                windows[stream] = null;
                detached = w;
                w = null;
            }
            if (w == null && bytes <= WINDOW_MAX_RUN) {
                ByteBuffer b = spareBuffers.poll();
                w = new Window(head, stream, p, b != null ? b : ByteBuffer.allocateDirect(WINDOW_BYTES));
                windows[stream] = w;
                unwritten.add(w);
            }
            if (w != null) {
                // alignment padding is written as zeros, never as a buffer's old bytes
                for (long i = w.end; i < p; i++) {
                    w.buf.put((int) (i - w.start), (byte) 0);
                }
                w.end = p + bytes;
                synchronized (w) {
                    w.inflight++;
                }
                mine = w;
            }
        }
        if (detached != null) {
            try {
                writeWindow(detached);
            } catch (IOException e) {
                if (mine != null) {
                    synchronized (mine) { // this run is never copied: its window must not wait for it
                        if (--mine.inflight == 0) {
                            mine.notifyAll();
                        }
                    }
                }
                throw e;
            }
        }
        Consumer<Segment> hook = onDataSegmentFull;
        if (full != null && hook != null) {
            hook.accept(full);
        }
        return address;
    }

    private volatile Consumer<Segment> onDataSegmentFull;

    /**
     * Called with a data segment once a stream has moved past it (nothing more is allocated in
     * it): the store starts its writeback then, so a long write does not leave all its data for
     * the flush at the end.
     */
    public void onDataSegmentFull(Consumer<Segment> hook) {
        this.onDataSegmentFull = hook;
    }

    /** Writes a detached window to its segment once every allocation in it has copied its bytes. */
    private void writeWindow(Window w) throws IOException {
        synchronized (w) {
            boolean interrupted = false;
            while (w.inflight > 0) {
                try {
                    w.wait();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            if (w.written) {
                return;
            }
            ByteBuffer view = w.buf.duplicate();
            view.position(0).limit((int) (w.end - w.start));
            try {
                w.segment.file.write(view, w.start);
            } catch (IOException e) {
                IOException t = OutOfSpace.translate(e, "writing data to segment " + w.segment.id + " at offset "
                        + w.start);
                if (windowFailure == null) {
                    windowFailure = t;
                }
                throw t;
            }
            w.written = true;
        }
        appended.addAndGet(w.end - w.start);
        unwritten.remove(w);
        synchronized (dataLock) {
            if (spareBuffers.size() < windows.length && w.buf.capacity() == WINDOW_BYTES) {
                spareBuffers.push(w.buf);
            }
        }
    }

    /**
     * Puts data an inline intent op carries back at its log address, as recovery replays it: a
     * crash may have lost it from the data segment, which a small flush does not force. It is
     * held as an unwritten window, so reads find it at once (a read-only store reads it from
     * there for as long as it is open) and the next commit writes it and forces the segment
     * before its trees point at it.
     */
    public void restore(long address, byte[] data) throws IOException {
        Segment s = segment(LogAddress.segment(address));
        long off = LogAddress.offset(address);
        if (s.kind != SegmentLayout.KIND_DATA || off < SegmentLayout.HEADER_BYTES || off + data.length > segmentSize) {
            throw new CorruptionException(s.file.path(), address, "an inline intent op puts " + data.length
                    + " bytes at " + LogAddress.toString(address) + ", outside a data segment's data");
        }
        synchronized (dataLock) {
            // the ops of one stream's small flushes lie back to back: one window takes a run of
            // them, so reads scan a few windows however many records were replayed
            Window w = restoring.get(s.id);
            if (w == null || w.written || w.end != off || off + data.length > w.start + w.buf.capacity()) {
                w = new Window(s, HOT, off, ByteBuffer.allocateDirect(Math.max(data.length, WINDOW_BYTES)));
                restoring.put(s.id, w);
                unwritten.add(w);
            }
            w.buf.put((int) (off - w.start), data);
            w.end = off + data.length;
            dirtyData.add(s);
            unforcedData.add(s);
        }
    }

    /** Windows not yet written to their segments (tests: restores share windows). */
    public int unwrittenWindows() {
        return unwritten.size();
    }

    /** The window that recovery's restores into a segment last went to, by segment id (guarded by dataLock). */
    private final Map<Long, Window> restoring = new java.util.HashMap<>();

    /** Windows taken out of use, to be written before the data segments are forced. */
    public interface DetachedWindows {
        void write() throws IOException;
    }

    /**
     * Takes every window out of use (later writes open new ones) and returns them, to write
     * before the data segments are forced. Called when no write is in flight: a flush's or a
     * commit's capture, under the txg lock.
     */
    public DetachedWindows detachWindows() {
        List<Window> out;
        synchronized (dataLock) {
            java.util.Arrays.fill(windows, null);
            out = new ArrayList<>(unwritten);
        }
        return writing(out);
    }

    /**
     * As {@link #detachWindows()} for the user streams only (HOT and WARM), for a flush: the
     * COLD stream holds nothing but moved data, which its commit writes.
     */
    public DetachedWindows detachUserWindows() {
        List<Window> out = new ArrayList<>();
        synchronized (dataLock) {
            windows[HOT] = null;
            windows[WARM] = null;
            for (Window w : unwritten) {
                if (w.stream != COLD) {
                    out.add(w);
                }
            }
        }
        return writing(out);
    }

    private DetachedWindows writing(List<Window> out) {
        return () -> {
            for (Window w : out) {
                writeWindow(w);
            }
        };
    }

    /** The failed window write that lost acknowledged writes, or null. */
    public IOException windowFailure() {
        return windowFailure;
    }

    /**
     * The segments that writes may still append to (every data head and the meta head): never
     * collected.
     */
    public Set<Long> heads() {
        Set<Long> h = new java.util.HashSet<>();
        synchronized (dataLock) {
            for (Segment s : dataHeads) {
                if (s != null) {
                    h.add(s.id);
                }
            }
        }
        if (metaHead != null) {
            h.add(metaHead.id);
        }
        return h;
    }

    /**
     * The segments a collector must not judge from the last freeze's trees: every head, and
     * every segment written since the last freeze ({@link #takeDirtyData()}), whose new data
     * only uncommitted trees point at. Taken in one step, so a head sealed in between is in the
     * set either way. The caller holds out freezes (the txg lock, shared).
     */
    public Set<Long> unsettled() {
        return unsettled(new HashMap<>());
    }

    /**
     * As {@link #unsettled()}, also giving the write position of each data head that nothing
     * was written to since the last freeze (every byte in it is judged by the freeze's trees).
     */
    public Set<Long> unsettled(Map<Long, Long> settledHeadPositions) {
        Set<Long> u = new java.util.HashSet<>();
        synchronized (dataLock) {
            for (int i = 0; i < dataHeads.length; i++) {
                Segment s = dataHeads[i];
                if (s != null) {
                    u.add(s.id);
                    if (!dirtyData.contains(s)) {
                        settledHeadPositions.put(s.id, dataPos[i]);
                    }
                }
            }
            for (Segment s : dirtyData) {
                u.add(s.id);
            }
        }
        Segment m = metaHead;
        if (m != null) {
            u.add(m.id);
        }
        return u;
    }

    /**
     * Closes the data heads a mark found nothing live in ({@code dead}: id to the head's write
     * position when the mark's roots were taken, for heads nothing had been written to since
     * the freeze before), when nothing was allocated in them since: their contents are then
     * exactly what the mark judged. The collector deletes them; the next write to that stream opens a new
     * segment. Returns the ids it closed.
     */
    public Set<Long> retireIdleDataHeads(Map<Long, Long> dead) {
        Set<Long> out = new java.util.HashSet<>();
        synchronized (dataLock) {
            for (int i = 0; i < dataHeads.length; i++) {
                Segment h = dataHeads[i];
                if (h != null && dead.containsKey(h.id) && dead.get(h.id) == dataPos[i] && !dirtyData.contains(h)) {
                    dataHeads[i] = null;
                    out.add(h.id);
                }
            }
        }
        return out;
    }

    /**
     * True when the meta head holds bytes past where the next record goes: the torn tail of a
     * commit that never completed, which may still name a next segment.
     */
    public boolean staleMetaTail() {
        return metaHead != null && metaTail;
    }

    private volatile boolean metaFill = true;

    /** Whether fill is written ahead of the meta head (StoreOptions.metaFill); a clean end is read either way. */
    public void setMetaFill(boolean on) {
        this.metaFill = on;
    }

    /** The most fill written ahead of the meta head at once. */
    static final int FILL_STEP = 1 << 20;
    /** How much of a segment's end {@link #cleanEnd} reads at once. */
    private static final int CLEAN_END_READ = 64 << 10;

    /**
     * Fill is written ahead in steps of a sixty-fourth of a segment, at most {@link #FILL_STEP}
     * (1 MiB with the default 64 MiB segments), so that in a small store the fill takes no
     * noticeable share of the space the collector must keep free.
     */
    private long fillStep() {
        return Math.max(4L * FillLayout.PAGE, Math.min(FILL_STEP, (segmentSize / 64) & ~(long) (FillLayout.PAGE - 1)));
    }

    /**
     * After a write to the meta head ending at {@code end}: when less than a quarter of a fill
     * step is left past it, writes the next step (see {@link FillLayout}). Not
     * forced here: the fsync that makes the write durable takes it along, and a crash that
     * loses it leaves a shorter file or zeroed pages, which recovery steps over as a torn tail.
     */
    void fillMetaAhead(long end) throws IOException {
        if (!metaFill) {
            return;
        }
        Segment h = metaHead;
        long limit = segmentSize & ~(long) (FillLayout.PAGE - 1);
        long step = fillStep();
        if (h == null || metaFilledTo - end >= step / 4) {
            return;
        }
        long from = Math.max(end, metaFilledTo);
        long to = Math.min(limit, FillLayout.pageUp(from) + step);
        if (to <= from) {
            return; // filled to the end of the segment
        }
        ByteBuffer b = FillLayout.encode(h.id, from, to);
        appended.addAndGet(b.remaining());
        h.file.write(b, from);
        metaFilledTo = to;
    }

    /**
     * True when the bytes of segment {@code segmentId} from {@code position} to the end of its
     * file are a clean end of the log: nothing, or zeros to the next page boundary and then
     * only fill pages of this segment at their own offsets (see {@link FillLayout}).
     */
    public static boolean cleanEnd(StorageFile f, long segmentId, long position) throws IOException {
        long size = f.size();
        if (size <= position) {
            return true;
        }
        if ((size & (FillLayout.PAGE - 1)) != 0) {
            return false;
        }
        long page = FillLayout.pageUp(position);
        // in pieces: a buffer as large as the fill (up to FILL_STEP), and the JDK's bounce buffer
        // for reading into it, are fresh memory to fault in on every open and every fsck
        ByteBuffer b = ByteBuffer.allocate((int) Math.max(FillLayout.PAGE, Math.min(CLEAN_END_READ, size - page)));
        if (page > position) {
            b.clear().limit((int) (page - position));
            readFully(f, b, position);
            for (int i = 0; i < b.limit(); i++) {
                if (b.get(i) != 0) {
                    return false;
                }
            }
        }
        while (page < size) {
            int n = (int) Math.min(b.capacity(), size - page);
            b.clear().limit(n);
            readFully(f, b, page);
            for (int at = 0; at < n; at += FillLayout.PAGE) {
                if (!FillLayout.isFillPage(b, at, segmentId, page + at)) {
                    return false;
                }
            }
            page += n;
        }
        return true;
    }

    private static void readFully(StorageFile f, ByteBuffer b, long position) throws IOException {
        long p = position;
        while (b.hasRemaining()) {
            int n = f.read(b, p);
            if (n <= 0) {
                throw new java.io.EOFException("segment file " + f.path() + " ended at " + p + " while reading its tail");
            }
            p += n;
        }
        b.flip();
    }

    /**
     * Segments under a cap that only the metadata log may take: a data segment is created only
     * while this many stay free after it, so the meta head can always roll once.
     */
    public static final int META_RESERVE = 1;

    /**
     * Caps the number of segment files (0 = no cap): creating one more fails with out-of-space.
     * Data segments stop {@link #META_RESERVE} short of the cap.
     */
    public void setSegmentLimit(long segments) {
        this.segmentLimit = segments;
    }

    public int segmentCount() {
        return segments.size();
    }

    /** Bytes still free in one stream's head segment (0 when the stream has none yet). */
    public long dataHeadRoom(int stream) {
        synchronized (dataLock) {
            return dataHeads[stream] == null ? 0 : Math.max(0, segmentSize - dataPos[stream]);
        }
    }

    /** Bytes still free before a new segment is needed, at the user data head with the least room. */
    public long dataHeadRoom() {
        synchronized (dataLock) {
            long room = Long.MAX_VALUE;
            for (int stream : new int[] {HOT, WARM}) {
                room = Math.min(room, dataHeads[stream] == null ? 0 : Math.max(0, segmentSize - dataPos[stream]));
            }
            return room;
        }
    }

    /** The id the next new segment will get: every segment now has a lower one. */
    public synchronized long nextSegmentId() {
        return nextSegmentId;
    }

    /**
     * Removes a segment file nothing points into any more. With {@code wipe}, its bytes are
     * overwritten with zeroes and forced first, so a freed volume's data cannot be read back
     * from the disk, and the file is deleted; without, a data segment's file is kept for reuse
     * while fewer than the recycle limit are ({@link #createSegment}).
     */
    public void deleteSegment(long id, boolean wipe) throws IOException {
        Segment s = segments.get(id);
        if (s == null) {
            return;
        }
        if (heads().contains(id)) {
            throw new IllegalStateException("invariant violated: segment " + id + " is a log head and cannot be deleted");
        }
        if (wipe) {
            ByteBuffer zeros = ByteBuffer.allocate(1 << 20);
            long size = s.file.size();
            for (long p = 0; p < size; p += zeros.capacity()) {
                zeros.clear().limit((int) Math.min(zeros.capacity(), size - p));
                s.file.write(zeros, p);
            }
            s.file.force();
        }
        long size = wipe ? 0 : s.file.size();
        segments.remove(id);
        dirtyData.remove(s);
        unforcedData.remove(s);
        unforcedMoved.remove(s);
        s.file.close();
        synchronized (this) {
            // at most a quarter of the store's own size is kept, so a small store stays small
            int keep = Math.min(recycleLimit, Math.max(1, segments.size() / 4));
            if (!wipe && s.kind == SegmentLayout.KIND_DATA && recycled.size() < keep) {
                recycled.addLast(new Recycled(SegmentLayout.fileName(id), size));
                return;
            }
        }
        storage.delete(SegmentLayout.fileName(id));
    }

    public void writeData(long address, ByteBuffer src) throws IOException {
        long seg = LogAddress.segment(address);
        long off = LogAddress.offset(address);
        for (Window w : unwritten) {
            if (w.segment.id == seg && off >= w.start && off < w.end) {
                synchronized (w) {
                    w.buf.put((int) (off - w.start), src, src.position(), src.remaining());
                    src.position(src.limit());
                    if (--w.inflight == 0) {
                        w.notifyAll();
                    }
                }
                return;
            }
        }
        Segment s = segment(seg);
        appended.addAndGet(src.remaining());
        try {
            s.file.write(src, off);
        } catch (IOException e) {
            throw OutOfSpace.translate(e, "writing data at " + LogAddress.toString(address));
        }
    }

    /**
     * Reads data at {@code address}: from the windows not written yet where they hold it, from
     * the segment file elsewhere.
     */
    public void readData(long address, ByteBuffer dst) throws IOException {
        long seg = LogAddress.segment(address);
        long off = LogAddress.offset(address);
        int want = dst.remaining();
        for (Window w : unwritten) {
            if (w.segment.id == seg && off < w.end && off + want > w.start && readWindow(w, off, dst)) {
                return;
            }
        }
        Segment s = segment(seg);
        int n = s.file.read(dst, off);
        if (n < want) {
            throw new CorruptionException(s.file.path(), address, "data block past the end of the segment file");
        }
    }

    /**
     * Serves a read from a window still unwritten; a read that reaches past the window's ends
     * (adjacent extents read together) takes those parts from the file or another window.
     */
    private boolean readWindow(Window w, long off, ByteBuffer dst) throws IOException {
        int want = dst.remaining();
        int base = dst.position();
        long lo = Math.max(off, w.start);
        long hi;
        synchronized (w) {
            if (w.written) {
                return false; // the file has it now
            }
            hi = Math.max(lo, Math.min(off + want, w.end));
            if (hi > lo) {
                ByteBuffer from = w.buf.duplicate();
                from.position((int) (lo - w.start)).limit((int) (hi - w.start));
                ByteBuffer to = dst.duplicate();
                to.position(base + (int) (lo - off));
                to.put(from);
            }
        }
        if (lo > off) {
            ByteBuffer before = dst.duplicate();
            before.limit(base + (int) (lo - off));
            readData(LogAddress.of(w.segment.id, off), before);
        }
        if (off + want > hi) {
            ByteBuffer after = dst.duplicate();
            after.position(base + (int) (hi - off));
            readData(LogAddress.of(w.segment.id, hi), after);
        }
        dst.position(dst.limit());
        return true;
    }

    /**
     * The data segments written since the last call. Called inside a commit's freeze, when no
     * write is in flight, so every write of the frozen group is in the returned set and every
     * later write lands in the next one.
     */
    public List<Segment> takeDirtyData() {
        synchronized (dataLock) {
            dirtyData = ConcurrentHashMap.newKeySet();
            Set<Segment> all = new java.util.LinkedHashSet<>(takeUnforcedData());
            all.addAll(unforcedMoved);
            unforcedMoved = ConcurrentHashMap.newKeySet();
            return new ArrayList<>(all);
        }
    }

    /**
     * The data segments written since they were last taken to be forced, for a flush that
     * logs intents: taken when no write is in flight, so each write an intent names is in a
     * segment forced before the intent (the segments stay unsettled until the next freeze).
     */
    public List<Segment> takeUnforcedData() {
        synchronized (dataLock) {
            List<Segment> out = new ArrayList<>(unforcedData);
            unforcedData = ConcurrentHashMap.newKeySet();
            return out;
        }
    }

    /** The data segments users wrote since they were last taken to be forced, left as they are. */
    public List<Segment> unforcedDataSegments() {
        synchronized (dataLock) {
            return new ArrayList<>(unforcedData);
        }
    }

    /** True when records of {@code bytes} fit in the meta head without moving the log to a new segment. */
    public boolean metaHeadHasRoom(long bytes) {
        return metaHead != null && metaPos + bytes + RecordLayout.paddedLength(8) <= segmentSize;
    }

    // ---- meta ----

    /** Sets where the next metadata record goes (after recovery). */
    public void setMetaHead(long segmentId, long position, boolean tail) throws IOException {
        metaHead = segment(segmentId);
        metaPos = position;
        metaTail = tail;
        // a clean end keeps its fill; after a torn tail nothing more is written here
        metaFilledTo = tail ? 0 : Math.max(position, metaHead.file.size());
    }

    public long metaHeadSegment() {
        return metaHead == null ? 0 : metaHead.id;
    }

    /** Starts writing a transaction group's records. */
    public MetaBatch beginBatch(long generation) {
        return new MetaBatch(this, generation);
    }

    /** Reads a whole record and checks magic, length and checksum. */
    public UnsafeBuffer readRecord(long address, int length) throws IOException {
        return readRecord(address, length, null);
    }

    /**
     * As {@link #readRecord(long, int)}, into {@code scratch} when it holds {@code length} bytes
     * (else, or when it is null, into a new buffer): for a caller that decodes the record at
     * once and keeps nothing of it. The result is a view of exactly the record, so what
     * decodes it sees the record's bounds, not the scratch's; it is good until scratch is used
     * again.
     */
    public UnsafeBuffer readRecord(long address, int length, ByteBuffer scratch) throws IOException {
        Segment s = segment(LogAddress.segment(address));
        if (length < RecordLayout.HEADER_BYTES || length > RecordLayout.MAX_LENGTH) {
            throw new CorruptionException(s.file.path(), address, "pointer gives record length " + length);
        }
        ByteBuffer b = scratch != null && scratch.capacity() >= length ? scratch.clear().limit(length)
                : ByteBuffer.allocate(length);
        int n = s.file.read(b, LogAddress.offset(address));
        return recordIn(b.clear().limit(Math.max(0, n)), 0, address, length);
    }

    /**
     * Reads {@code length} bytes of one segment from {@code address} in one I/O: records that
     * sit near each other (the nodes one commit wrote for a tree) cost one read instead of one
     * each. The span may stop short at the end of the file; {@link #recordIn} checks each record
     * in it as {@link #readRecord} checks one read alone.
     */
    public ByteBuffer readSpan(long address, int length) throws IOException {
        Segment s = segment(LogAddress.segment(address));
        ByteBuffer b = ByteBuffer.allocate(length);
        int n = s.file.read(b, LogAddress.offset(address));
        return b.clear().limit(Math.max(0, n));
    }

    /**
     * The record at {@code address}, found {@code at} bytes into a span that {@link #readSpan}
     * read, checked for magic, length and checksum. The record gets a buffer of its own (a view
     * of the span), so what decodes it sees its bounds alone.
     */
    public UnsafeBuffer recordIn(ByteBuffer span, int at, long address, int length) throws CorruptionException {
        Segment s = segment(LogAddress.segment(address));
        if (length < RecordLayout.HEADER_BYTES || length > RecordLayout.MAX_LENGTH) {
            throw new CorruptionException(s.file.path(), address, "pointer gives record length " + length);
        }
        if (at < 0 || (long) at + length > span.limit()) {
            throw new CorruptionException(s.file.path(), address, "record runs past the end of the segment file");
        }
        UnsafeBuffer u = new UnsafeBuffer(span.slice(at, length));
        String bad = checkRecord(u, length);
        if (bad != null) {
            throw new CorruptionException(s.file.path(), address, bad);
        }
        return u;
    }

    /** Null when the record in {@code u} (of the given length) is whole, else what is wrong. */
    public static String checkRecord(UnsafeBuffer u, int length) {
        if (u.getInt(RecordLayout.MAGIC_OFFSET) != RecordLayout.MAGIC) {
            return "bad record magic";
        }
        int len = u.getInt(RecordLayout.LENGTH_OFFSET);
        if (len != length) {
            return "record length " + len + ", expected " + length;
        }
        int stored = u.getInt(RecordLayout.CRC_OFFSET);
        u.putInt(RecordLayout.CRC_OFFSET, 0);
        CRC32C c = new CRC32C();
        c.update(u.byteBuffer().duplicate().position(0).limit(length));
        u.putInt(RecordLayout.CRC_OFFSET, stored);
        if ((int) c.getValue() != stored) {
            return "record checksum mismatch";
        }
        return null;
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        try {
            releaseRecycled();
        } catch (IOException e) {
            first = e;
        }
        for (Segment s : segments.values()) {
            try {
                s.file.close();
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        segments.clear();
        if (first != null) {
            throw first;
        }
    }

    /** Maps "no space left" I/O errors to {@link OutOfSpaceException}. */
    static final class OutOfSpace {
        private OutOfSpace() {
        }

        static IOException translate(IOException e, String doing) {
            String m = String.valueOf(e.getMessage());
            if (e instanceof OutOfSpaceException) {
                return e;
            }
            if (m.contains("No space left") || m.contains("ENOSPC") || m.contains("Disk quota exceeded")) {
                return new OutOfSpaceException("out of space while " + doing
                        + ": free disk space (or destroy snapshots and volumes) and retry; the store keeps its last commit", e);
            }
            return e;
        }
    }

    public static IOException translateIo(IOException e, String doing) {
        return OutOfSpace.translate(e, doing);
    }
}
