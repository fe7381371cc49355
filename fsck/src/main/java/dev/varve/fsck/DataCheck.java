package dev.varve.fsck;

import dev.varve.engine.CorruptionException;
import dev.varve.engine.LogAddress;
import dev.varve.engine.btree.Extent;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.log.Log;
import dev.varve.engine.log.Segment;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;
import org.agrona.collections.Long2LongHashMap;

/**
 * Verifies data blocks against the checksums their extents carry. Extents are gathered while
 * the trees are walked, then read in address order, neighbours merged into runs of up to 8
 * MiB, so the data segments are read (nearly) sequentially whatever order the trees list them
 * in. Each extent is read once however many trees share it. What fails is kept by block
 * address; which volumes and snapshots it affects is worked out afterwards from the trees.
 *
 * <p>The extents are gathered whole before the first read, up to a memory budget
 * ({@link #BUDGET_BYTES}: an eighth of the heap, at least 64 MiB and at most 1 GiB, at about
 * {@link #bytesHeld} each). A store with more extents than that is checked in batches, each
 * read in address order, and only such a store pays for it: a batch is what part of the trees
 * listed, so its extents are scattered over every data segment, and reading each batch across
 * the segments read the data of a 1 GiB store twice (2.2 GB in 1,821 runs, against 1.16 GB in
 * 145 runs for one batch), when the batch was 512 MiB of data however small the extents.
 * {@code -Dvarve.fsck.extentMemory=BYTES} sets the budget.
 *
 * <p>Given {@link SegmentReads} (a check of a directory), the runs are read through them, from
 * the file system block at or before each run's start, threads reading the next pieces of the
 * batch's runs while this verifies one ({@link SegmentReads.Ahead}); a block no piece holds whole
 * (across two pieces, or behind, for overlapping extents) is read here, as without them. Given a
 * {@link DataScan} that read a run's segment whole, its blocks are checked from the scan's CRCs
 * and not read again.
 *
 * <p>A run is read front to back in pieces of up to {@link LogScan#WINDOW_BYTES}, into the
 * buffer the log scan read the meta segments through, not a buffer of its own: memory a process
 * touches for the first time costs a page fault per 4 KiB, which on the benchmark's VM comes to
 * about 5 ms per MiB, and a fresh 8 MiB buffer per check cost about a quarter of a check of a
 * 256 MiB store with everything in the page cache. The pieces cover the run exactly as one read
 * of it would, so the bytes read, and where a short file is found to end, are the same.
 */
final class DataCheck {
    private static final int MAX_READ = 8 << 20;
    private static final int MAX_GAP = 256 << 10;
    /** How much memory the gathered extents may hold before they are read as a batch. */
    static final long BUDGET_BYTES = Math.max(64L << 20, Math.min(1L << 30, Runtime.getRuntime().maxMemory() / 8));

    private record Pending(long address, int blockSize, Extent extent) {
        long end() {
            return address + (long) extent.blocks * blockSize;
        }
    }

    private final Log log;
    private final Findings findings;
    private final Meter meter;
    private final boolean fast;
    private final Runnable beforeReading;
    /** The data segment files opened for this check's reads, or null: read through the log's storage. */
    private final SegmentReads reads;
    /** The CRCs of every 4 KiB of the data segments, read while the trees were walked, or null. */
    private final DataScan scan;
    private final List<Pending> pending = new ArrayList<>();
    private final long budget;
    private long pendingBytes;
    /** Extent start address -> bytes from there already verified (or queued). */
    private final Long2LongHashMap queued = new Long2LongHashMap(0);
    /** Block address -> finding, for blocks that fail their checksum. */
    private final Map<Long, Integer> badBlocks = new HashMap<>();
    /** Segment -> finding, for data segments missing, unusable or not data. */
    private final Map<Long, Integer> badSegments = new HashMap<>();
    /** Segment -> {length of the file, finding} for data that lies past a segment's end. */
    private final Map<Long, long[]> shortSegments = new HashMap<>();
    private ByteBuffer buf;
    private final CRC32C crc = new CRC32C();
    /** Grows whenever a finding is added: what was attributed before may be incomplete. */
    private int version;
    long blocks;
    long bytes;

    DataCheck(Log log, Findings findings, Meter meter, boolean fast) {
        this(log, findings, meter, fast, () -> { }, null, null, null);
    }

    /**
     * {@code beforeReading} runs before the first data read: it stops a {@link Readahead}.
     * {@code buffer} (a direct buffer, or null) is read into, and replaced only by a larger one
     * for a block that does not fit; nothing else may use it while this reads.
     */
    DataCheck(Log log, Findings findings, Meter meter, boolean fast, Runnable beforeReading, ByteBuffer buffer,
            SegmentReads reads, DataScan scan) {
        this.log = log;
        this.findings = findings;
        this.meter = meter;
        this.fast = fast;
        this.beforeReading = beforeReading;
        this.reads = reads;
        this.scan = scan;
        this.buf = reads != null ? null : buffer;
        this.budget = SegmentReads.bytesProperty("varve.fsck.extentMemory", BUDGET_BYTES);
    }

    /**
     * About the heap a gathered extent holds until its batch is read: its entry in the list and
     * in {@link #queued}, the extent, and its checksums.
     */
    static long bytesHeld(Extent e) {
        return 128 + 4L * e.blocks;
    }

    /** Counts blocks an inline intent op carries, verified from its record, as checked data. */
    void verifiedInline(long blockCount, long byteCount) {
        if (!fast) {
            blocks += blockCount;
            bytes += byteCount;
        }
    }

    /**
     * Queues an extent's blocks to be checked, unless an extent from the same address at least as
     * long already was (in a fast check, only notes it). Returns whether it was new.
     */
    boolean add(Extent e, int blockSize) throws IOException {
        long len = (long) e.blocks * blockSize;
        if (queued.get(e.address) >= len) {
            return false;
        }
        queued.put(e.address, len);
        if (fast) {
            return true;
        }
        pending.add(new Pending(e.address, blockSize, e));
        pendingBytes += bytesHeld(e);
        if (pendingBytes >= budget) {
            flush();
        }
        return true;
    }

    /** Reads and verifies everything gathered so far. */
    void flush() throws IOException {
        if (pending.isEmpty()) {
            return;
        }
        beforeReading.run();
        pending.sort(Comparator.comparingLong(Pending::address));
        // runs of neighbouring extents: [first pending index, end index) and their addresses
        List<long[]> runs = new ArrayList<>();
        int i = 0;
        while (i < pending.size()) {
            Pending first = pending.get(i);
            long seg = LogAddress.segment(first.address);
            long start = first.address;
            long end = first.end();
            int j = i + 1;
            while (j < pending.size()) {
                Pending n = pending.get(j);
                if (LogAddress.segment(n.address) != seg || n.address > end + MAX_GAP
                        || Math.max(end, n.end()) - start > MAX_READ) {
                    break;
                }
                end = Math.max(end, n.end());
                j++;
            }
            runs.add(new long[] {i, j, start, end});
            i = j;
        }
        SegmentReads.Ahead ahead = null;
        if (reads != null && scan == null) {
            List<SegmentReads.Run> plan = new ArrayList<>(runs.size());
            for (long[] r : runs) {
                long off = LogAddress.offset(r[2]);
                plan.add(new SegmentReads.Run(LogAddress.segment(r[2]), off, off + (r[3] - r[2])));
            }
            ahead = reads.ahead(plan);
        }
        try {
            for (long[] r : runs) {
                verify(LogAddress.segment(r[2]), r[2], r[3], pending.subList((int) r[0], (int) r[1]), ahead);
            }
        } finally {
            if (ahead != null) {
                ahead.close();
            }
        }
        pending.clear();
        pendingBytes = 0;
    }

    private void verify(long segId, long start, long end, List<Pending> run, SegmentReads.Ahead ahead)
            throws IOException {
        if (badSegments.containsKey(segId)) {
            return;
        }
        Segment seg;
        try {
            seg = log.segment(segId);
        } catch (CorruptionException e) {
            String why = e.getMessage().contains("missing") ? "data segment file is missing"
                    : "data segment is unusable: " + e.getMessage();
            badSegments.put(segId, findings.slot("data-missing", segId, 0, why));
            version++;
            return;
        }
        if (seg.kind != SegmentLayout.KIND_DATA) {
            badSegments.put(segId, findings.slot("data-target", segId, 0, "extents point into segment " + segId
                    + ", which is not a data segment"));
            version++;
            return;
        }
        if (buf == null) {
            buf = reads != null ? reads.buffer(LogScan.WINDOW_BYTES) : ByteBuffer.allocateDirect(LogScan.WINDOW_BYTES);
        }
        long runEnd = LogAddress.offset(start) + (end - start);
        DataScan.Sectors sectors = scan != null ? scan.sectors(segId) : null;
        if (sectors != null && fitSectors(run)) {
            verify(seg, LogAddress.offset(start), runEnd, run, sectors);
            return;
        }
        FileChannel ch = reads != null ? reads.channel(segId) : null;
        int align = ch != null ? reads.alignment : 1;
        // the file's bytes [windowStart, windowStart + windowBytes) are in buf; those up to
        // readTo have been read (and counted) once; eof is where a short read found the file
        // ends, or -1
        long windowStart = 0;
        int windowBytes = 0;
        long readTo = LogAddress.offset(start);
        long eof = -1;
        ByteBuffer d = buf.duplicate();
        for (Pending p : run) {
            for (int b = 0; b < p.extent.blocks; b++) {
                long blockAddr = p.address + (long) b * p.blockSize;
                long off = LogAddress.offset(blockAddr);
                if (ahead != null && ch != null && (off < windowStart || off + p.blockSize > windowStart + windowBytes)
                        && (eof < 0 || off + p.blockSize <= eof)) {
                    SegmentReads.Piece piece = ahead.take(segId, off, p.blockSize);
                    if (piece != null) {
                        windowStart = piece.position;
                        windowBytes = piece.bytes;
                        d = piece.buffer.duplicate();
                        if (piece.bytes < piece.wanted) {
                            eof = piece.end();
                        }
                        if (piece.end() > readTo) {
                            bytes += piece.end() - readTo;
                            meter.add(piece.end() - readTo);
                            readTo = piece.end();
                        }
                    }
                }
                if ((off < windowStart || off + p.blockSize > windowStart + windowBytes)
                        && (eof < 0 || off + p.blockSize <= eof)) {
                    // the next piece: on from what was read (gaps between extents included, as
                    // one read of the run would), or back to a block an overlapping extent
                    // already passed
                    long from = off >= readTo ? readTo : off;
                    from -= Math.floorMod(from, align); // reads start on a block of the file system
                    int need = alignUp((int) (off + p.blockSize - from), align);
                    if (buf.capacity() < need) {
                        buf = reads != null ? reads.buffer(need) : ByteBuffer.allocateDirect(need);
                    }
                    d = buf.duplicate();
                    int want = (int) Math.max(need, Math.min(buf.capacity() - buf.capacity() % align,
                            alignUp(runEnd - from, align)));
                    buf.clear().limit(want);
                    int n = ch != null ? reads.read(ch, buf, from) : seg.file.read(buf, from);
                    windowStart = from;
                    windowBytes = n;
                    if (n < want) {
                        eof = from + n;
                    }
                    if (from + n > readTo) {
                        bytes += from + n - readTo;
                        meter.add(from + n - readTo);
                        readTo = from + n;
                    }
                }
                if (off < windowStart || off + p.blockSize > windowStart + windowBytes) {
                    markShort(seg, off, eof);
                    continue;
                }
                blocks++;
                int at = (int) (off - windowStart);
                d.limit(at + p.blockSize).position(at);
                crc.reset();
                crc.update(d);
                if ((int) crc.getValue() != p.extent.crc(b) && !badBlocks.containsKey(blockAddr)) {
                    badBlocks.put(blockAddr, findings.slot("data-checksum", segId, off, "data block fails its checksum",
                            p.blockSize));
                    version++;
                }
            }
        }
    }

    private static boolean fitSectors(List<Pending> run) {
        for (Pending p : run) {
            if (!DataScan.Sectors.fits(LogAddress.offset(p.address), p.blockSize)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Checks a run's blocks against the CRCs of the 4 KiB pieces its segment was read in: the
     * same blocks, findings and bytes as reading the run would give.
     */
    private void verify(Segment seg, long from, long to, List<Pending> run, DataScan.Sectors sectors)
            throws IOException {
        long size = sectors.size;
        bytes += Math.max(0, Math.min(to, size) - from); // the scan told the meter as it read
        for (Pending p : run) {
            for (int b = 0; b < p.extent.blocks; b++) {
                long blockAddr = p.address + (long) b * p.blockSize;
                long off = LogAddress.offset(blockAddr);
                if (off + p.blockSize > size) {
                    markShort(seg, off, size);
                    continue;
                }
                blocks++;
                if (sectors.crc(off, p.blockSize) != p.extent.crc(b) && !badBlocks.containsKey(blockAddr)) {
                    badBlocks.put(blockAddr, findings.slot("data-checksum", seg.id, off, "data block fails its checksum",
                            p.blockSize));
                    version++;
                }
            }
        }
    }

    /** Keeps the read buffer for the next check in this process; call when the check is done. */
    void release() {
        if (reads != null) {
            SegmentReads.keep(buf);
            buf = null;
        }
    }

    private static int alignUp(long n, int align) {
        return (int) ((n + align - 1) / align * align);
    }

    /**
     * Records that {@code seg}'s file ends before data an extent names. Where it ends is its size:
     * a read that found nothing at all ({@code eof} its own start) began past the end, which may be
     * well before it when the run began after a gap, or in a later batch.
     */
    private void markShort(Segment seg, long offset, long eof) throws IOException {
        long segId = seg.id;
        if (shortSegments.containsKey(segId)) {
            return;
        }
        long end = Math.min(seg.file.size(), eof >= 0 ? eof : offset);
        int slot = findings.slot("data-missing", segId, end, "data past the end of the segment file (it ends at byte "
                + end + "; truncated?)");
        shortSegments.put(segId, new long[] {end, slot});
        version++;
    }

    /** The finding covering the block at {@code address}, or -1 when it verified (or was not read). */
    int damageAt(long address, int blockSize) {
        if (badBlocks.isEmpty() && badSegments.isEmpty() && shortSegments.isEmpty()) {
            return -1;
        }
        long seg = LogAddress.segment(address);
        Integer s = badSegments.get(seg);
        if (s != null) {
            return s;
        }
        long[] sh = shortSegments.get(seg);
        if (sh != null && LogAddress.offset(address) + blockSize > sh[0]) {
            return (int) sh[1];
        }
        s = badBlocks.get(address);
        return s == null ? -1 : s;
    }

    /** Every extent queued for checking: start address -> bytes (tests use it to find live data). */
    Map<Long, Long> extents() {
        Map<Long, Long> m = new HashMap<>();
        queued.forEach(m::put);
        return m;
    }

    boolean anyDamage() {
        return version > 0;
    }

    int version() {
        return version;
    }
}
