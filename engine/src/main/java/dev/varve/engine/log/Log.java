package dev.varve.engine.log;

import dev.varve.engine.CorruptionException;
import dev.varve.engine.LogAddress;
import dev.varve.engine.OutOfSpaceException;
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
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
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
    private long nextSegmentId;
    private final java.util.concurrent.atomic.AtomicLong appended = new java.util.concurrent.atomic.AtomicLong();

    private final Object dataLock = new Object();
    private Segment dataHead;
    private long dataPos;
    private Segment coldHead;
    private long coldPos;
    private volatile long segmentLimit;

    Segment metaHead;
    long metaPos;

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

    /** Creates a new segment file with its header, durable together with its directory entry. */
    Segment createSegment(int kind) throws IOException {
        long id;
        long limit = segmentLimit;
        if (limit > 0 && segments.size() >= limit) {
            throw new OutOfSpaceException("the store has reached its size limit (" + limit + " segments of "
                    + segmentSize + " bytes): destroy snapshots or volumes and run 'varve gc', or open it with a"
                    + " larger --max-size");
        }
        synchronized (this) {
            id = nextSegmentId++;
        }
        String name = SegmentLayout.fileName(id);
        StorageFile f = storage.open(name, true);
        ByteBuffer b = ByteBuffer.allocate(SegmentLayout.HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(SegmentLayout.MAGIC_OFFSET, SegmentLayout.MAGIC);
        b.putInt(SegmentLayout.FORMAT_OFFSET, FormatVersion.CURRENT);
        b.putInt(SegmentLayout.KIND_OFFSET, kind);
        b.putLong(SegmentLayout.SEGMENT_ID_OFFSET, id);
        b.putLong(SegmentLayout.UUID_OFFSET, uuidHi);
        b.putLong(SegmentLayout.UUID_OFFSET + 8, uuidLo);
        b.putLong(SegmentLayout.CREATED_OFFSET, System.currentTimeMillis());
        b.putInt(SegmentLayout.CRC_OFFSET, crc(b, 0, SegmentLayout.CRC_OFFSET));
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
        return allocateData(bytes, align, false);
    }

    /**
     * Reserves {@code bytes} at the data head, or at the cold head when {@code cold}: data the
     * compactor moves goes to a log head of its own, so long-lived data does not mix with
     * fresh writes (which die young) and later compactions find it packed.
     */
    public long allocateData(int bytes, int align, boolean cold) throws IOException {
        synchronized (dataLock) {
            Segment head = cold ? coldHead : dataHead;
            long pos = cold ? coldPos : dataPos;
            if (head != null) {
                long p = (pos + align - 1) & -(long) align;
                if (p + bytes <= segmentSize) {
                    setPos(cold, p + bytes);
                    dirtyData.add(head);
                    return LogAddress.of(head.id, p);
                }
            }
            head = createSegment(SegmentLayout.KIND_DATA);
            if (cold) {
                coldHead = head;
            } else {
                dataHead = head;
            }
            long p = SegmentLayout.HEADER_BYTES;
            setPos(cold, p + bytes);
            dirtyData.add(head);
            return LogAddress.of(head.id, p);
        }
    }

    private void setPos(boolean cold, long pos) {
        if (cold) {
            coldPos = pos;
        } else {
            dataPos = pos;
        }
    }

    /**
     * The segments that writes may still append to (the data, cold and meta heads): never
     * collected.
     */
    public Set<Long> heads() {
        Set<Long> h = new java.util.HashSet<>();
        synchronized (dataLock) {
            if (dataHead != null) {
                h.add(dataHead.id);
            }
            if (coldHead != null) {
                h.add(coldHead.id);
            }
        }
        if (metaHead != null) {
            h.add(metaHead.id);
        }
        return h;
    }

    /**
     * The data head's id (or the next segment id when there is none yet): every data segment
     * below it is sealed, and every write into it finished before this call if the caller
     * holds out writers (a commit's freeze).
     */
    public long dataHeadId() {
        synchronized (dataLock) {
            return dataHead != null ? dataHead.id : nextSegmentId();
        }
    }

    /**
     * True when the meta head holds bytes past where the next record goes: the torn tail of a
     * commit that never completed, which may still name a next segment.
     */
    public boolean staleMetaTail() throws IOException {
        Segment h = metaHead;
        return h != null && h.file.size() > metaPos;
    }

    /** Caps the number of segment files (0 = no cap): creating one more fails with out-of-space. */
    public void setSegmentLimit(long segments) {
        this.segmentLimit = segments;
    }

    public int segmentCount() {
        return segments.size();
    }

    /** Bytes still free at the data head before a new segment is needed. */
    public long dataHeadRoom() {
        synchronized (dataLock) {
            return dataHead == null ? 0 : Math.max(0, segmentSize - dataPos);
        }
    }

    /** The id the next new segment will get: every segment now has a lower one. */
    public synchronized long nextSegmentId() {
        return nextSegmentId;
    }

    /**
     * Removes a segment file nothing points into any more. With {@code wipe}, its bytes are
     * overwritten with zeroes and forced first, so a freed volume's data cannot be read back
     * from the disk.
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
        segments.remove(id);
        dirtyData.remove(s);
        s.file.close();
        storage.delete(SegmentLayout.fileName(id));
    }

    public void writeData(long address, ByteBuffer src) throws IOException {
        Segment s = segment(LogAddress.segment(address));
        appended.addAndGet(src.remaining());
        try {
            s.file.write(src, LogAddress.offset(address));
        } catch (IOException e) {
            throw OutOfSpace.translate(e, "writing data at " + LogAddress.toString(address));
        }
    }

    public void readData(long address, ByteBuffer dst) throws IOException {
        Segment s = segment(LogAddress.segment(address));
        int want = dst.remaining();
        int n = s.file.read(dst, LogAddress.offset(address));
        if (n < want) {
            throw new CorruptionException(s.file.path(), address, "data block past the end of the segment file");
        }
    }

    /**
     * The data segments written since the last call. Called inside a commit's freeze, when no
     * write is in flight, so every write of the frozen group is in the returned set and every
     * later write lands in the next one.
     */
    public List<Segment> takeDirtyData() {
        synchronized (dataLock) {
            List<Segment> out = new ArrayList<>(dirtyData);
            dirtyData = ConcurrentHashMap.newKeySet();
            return out;
        }
    }

    // ---- meta ----

    /** Sets where the next metadata record goes (after recovery). */
    public void setMetaHead(long segmentId, long position) throws CorruptionException {
        metaHead = segment(segmentId);
        metaPos = position;
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
        Segment s = segment(LogAddress.segment(address));
        if (length < RecordLayout.HEADER_BYTES || length > RecordLayout.MAX_LENGTH) {
            throw new CorruptionException(s.file.path(), address, "pointer gives record length " + length);
        }
        ByteBuffer b = ByteBuffer.allocate(length);
        int n = s.file.read(b, LogAddress.offset(address));
        if (n < length) {
            throw new CorruptionException(s.file.path(), address, "record runs past the end of the segment file");
        }
        UnsafeBuffer u = new UnsafeBuffer(b);
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
