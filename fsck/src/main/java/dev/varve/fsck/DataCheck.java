package dev.varve.fsck;

import dev.varve.engine.CorruptionException;
import dev.varve.engine.LogAddress;
import dev.varve.engine.btree.Extent;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.log.Log;
import dev.varve.engine.log.Segment;
import java.io.IOException;
import java.nio.ByteBuffer;
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
    private static final long BATCH_BYTES = 512L << 20;

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
    private final List<Pending> pending = new ArrayList<>();
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
        this(log, findings, meter, fast, () -> { }, null);
    }

    /**
     * {@code beforeReading} runs before the first data read: it stops a {@link Readahead}.
     * {@code buffer} (a direct buffer, or null) is read into, and replaced only by a larger one
     * for a block that does not fit; nothing else may use it while this reads.
     */
    DataCheck(Log log, Findings findings, Meter meter, boolean fast, Runnable beforeReading, ByteBuffer buffer) {
        this.log = log;
        this.findings = findings;
        this.meter = meter;
        this.fast = fast;
        this.beforeReading = beforeReading;
        this.buf = buffer;
    }

    /** Counts blocks an inline intent op carries, verified from its record, as checked data. */
    void verifiedInline(long blockCount, long byteCount) {
        if (!fast) {
            blocks += blockCount;
            bytes += byteCount;
        }
    }

    void add(Extent e, int blockSize) throws IOException {
        if (fast) {
            return;
        }
        long len = (long) e.blocks * blockSize;
        if (queued.get(e.address) >= len) {
            return;
        }
        queued.put(e.address, len);
        pending.add(new Pending(e.address, blockSize, e));
        pendingBytes += len;
        if (pendingBytes >= BATCH_BYTES) {
            flush();
        }
    }

    /** Reads and verifies everything gathered so far. */
    void flush() throws IOException {
        if (pending.isEmpty()) {
            return;
        }
        beforeReading.run();
        pending.sort(Comparator.comparingLong(Pending::address));
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
            verify(seg, start, end, pending.subList(i, j));
            i = j;
        }
        pending.clear();
        pendingBytes = 0;
    }

    private void verify(long segId, long start, long end, List<Pending> run) throws IOException {
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
            buf = ByteBuffer.allocateDirect(LogScan.WINDOW_BYTES);
        }
        long runEnd = LogAddress.offset(start) + (end - start);
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
                if ((off < windowStart || off + p.blockSize > windowStart + windowBytes)
                        && (eof < 0 || off + p.blockSize <= eof)) {
                    // the next piece: on from what was read (gaps between extents included, as
                    // one read of the run would), or back to a block an overlapping extent
                    // already passed
                    long from = off >= readTo ? readTo : off;
                    int need = (int) (off + p.blockSize - from);
                    if (buf.capacity() < need) {
                        buf = ByteBuffer.allocateDirect(need);
                        d = buf.duplicate();
                    }
                    int want = (int) Math.max(need, Math.min(buf.capacity(), runEnd - from));
                    buf.clear().limit(want);
                    int n = seg.file.read(buf, from);
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
                    markShort(segId, off, eof);
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

    private void markShort(long segId, long offset, long eof) {
        if (shortSegments.containsKey(segId)) {
            return;
        }
        long end = eof >= 0 ? eof : offset;
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
