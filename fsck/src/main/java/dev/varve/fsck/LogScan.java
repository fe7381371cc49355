package dev.varve.fsck;

import dev.varve.engine.LogAddress;
import dev.varve.engine.btree.Extent;
import dev.varve.engine.btree.TreePointer;
import dev.varve.engine.catalog.Catalog;
import dev.varve.engine.format.CommitLayout;
import dev.varve.engine.format.IntentLayout;
import dev.varve.engine.format.RecordLayout;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.io.StorageFile;
import dev.varve.engine.log.CommitInfo;
import dev.varve.engine.log.Log;
import dev.varve.engine.log.Segment;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32C;
import org.agrona.collections.LongArrayList;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * One pass over every meta segment, front to back, in large sequential reads: every record's
 * header and checksum, the order of generations, every whole commit record (by address, for
 * walking the chain and for repair), the next-segment links, and the marks earlier repairs
 * left. After damage the scan looks for the next whole record (records are 8-byte aligned and
 * each carries its own checksum), so damage in the middle of a segment does not hide what
 * follows it. Like recovery, it stops reading a segment at a next-segment record: what lies
 * after one is a torn group the log went around.
 *
 * <p>Intent records ({@link IntentLayout}) belong to no transaction group: they follow a commit
 * directly in its segment (or other intents of it), carry the generation after it and name it,
 * and the next group's chained checksum starts after them. One that does not is a stale or
 * misdirected write, and recovery stops at it.
 */
final class LogScan {
    /**
     * The size of the scan's reads, and of the data check's pieces (one buffer serves both).
     * The kernel reads ahead of sequential reads of any size, so 1 MiB keeps the disk as busy
     * as larger reads; but the buffer is memory the process touches anew in every check, a page
     * fault per 4 KiB: 4 MiB cost about 20 ms a check on the benchmark's VM, 1 MiB about 5.
     */
    static final int WINDOW_BYTES = 1 << 20;
    /** Blob key of the record a repair writes into its own transaction group. */
    static final String MARK_KEY = "varve.repair";
    /** Blob key listing the damaged records a repair left behind, as "segment:offset" words. */
    static final String ACKNOWLEDGED_KEY = "varve.repair.acknowledged";
    private static final int SUMMARY_ENTRY_BYTES = 8 + 8 + 4 + 8;

    /**
     * A stretch of a meta segment that is not whole records. {@code type} and {@code length}
     * are what the record's header says when the header looks sound, else -1.
     */
    record Damage(long segment, long offset, long end, String kind, String what, int type, int length) {
        long address() {
            return LogAddress.of(segment, offset);
        }
    }

    /**
     * A whole intent record: where, its generation, the commit it names, and whether it is the
     * last record its flush wrote (header flag {@link IntentLayout#FLAG_FLUSH_END}).
     */
    record Intent(long address, int length, long generation, long prev, boolean flushEnd) {
        long segment() {
            return LogAddress.segment(address);
        }

        long offset() {
            return LogAddress.offset(address);
        }

        /**
         * True when the flush that wrote it wrote no further intent record after it: a flush
         * starts another record only when the next op would not fit in this one.
         */
        boolean endsItsFlush() {
            return flushEnd;
        }

        /**
         * For a damaged record, whose flags cannot be trusted: true when a record of this length
         * cannot have been followed by another of its flush (a flush starts another record only
         * when the next op would not fit in this one).
         */
        static boolean endsItsFlush(int recordLength) {
            return recordLength - RecordLayout.HEADER_BYTES <= IntentLayout.MAX_PAYLOAD - IntentLayout.GROUP_HEADER_BYTES
                    - IntentLayout.writeOpBytes(Extent.MAX_BLOCKS);
        }
    }

    /** A whole record other than an intent after the last commit of its segment (a group no commit closed there). */
    record Tail(long offset, int type, long generation) {
    }

    /** A repair's mark: its generation, and the damaged records it accepted as history. */
    record Mark(long generation, Set<Long> acknowledged) {
    }

    final Map<Long, CommitInfo> commits = new HashMap<>();
    final List<Damage> damage = new ArrayList<>();
    /** Segment -> {segment it continues in, end of its next-segment record}. */
    final Map<Long, long[]> nextSegment = new HashMap<>();
    /** Addresses of whole tree-node and blob records. */
    final LongHashSet nodeRecords = new LongHashSet();
    final List<Mark> marks = new ArrayList<>();
    /** Every whole intent record, in log order within each segment. */
    final List<Intent> intents = new ArrayList<>();
    /** Meta segment -> the whole records other than intents after its last commit record. */
    final Map<Long, List<Tail>> tails = new HashMap<>();
    /**
     * What the data summaries say was written: {address, blocks, lineage} triples, for
     * counting data blocks no tree points at any more.
     */
    final LongArrayList written = new LongArrayList();
    /** Meta segment -> its file size. */
    final Map<Long, Long> sizes = new HashMap<>();
    long records;
    long bytes;
    long maxGeneration;
    /** The highest segment id the log mentions anywhere (next-segment records, commit pointers). */
    long maxSegmentMentioned;

    private final Meter meter;
    /**
     * The windows' buffer, one for all the segments a scan reads (and, after the scan, the
     * caller's other large reads): a new (zeroed) 4 MiB buffer per meta segment cost more than
     * reading a small one.
     */
    private ByteBuffer windowBuffer;
    /** Transaction groups that go on in another segment, by the segment they go on in. */
    private final Map<Long, Group> carried = new HashMap<>();

    /**
     * The records of one transaction group so far: a commit closes it, and every record in it
     * must have the commit's generation and match the commit's chained checksum.
     */
    private static final class Group {
        final CRC32C crc = new CRC32C();
        final List<long[]> records = new ArrayList<>();
        boolean broken;
        /**
         * False for the first group of a segment nothing scanned leads into: it may have begun
         * in a segment the collector has since reclaimed, so its checksum cannot be checked.
         */
        boolean whole;

        Group(boolean whole) {
            this.whole = whole;
        }
    }

    private LogScan(Meter meter, ByteBuffer window) {
        this.meter = meter;
        this.windowBuffer = window.order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Scans every meta segment, reading through {@code window} (a direct buffer of at least
     * {@link #WINDOW_BYTES}; replaced by a larger one only for a record that does not fit).
     */
    static LogScan scan(Log log, Meter meter, ByteBuffer window) throws IOException {
        LogScan s = new LogScan(meter, window);
        for (Segment seg : log.segments()) {
            s.maxSegmentMentioned = Math.max(s.maxSegmentMentioned, seg.id);
            if (seg.kind == SegmentLayout.KIND_META) {
                s.scanSegment(seg);
            }
        }
        return s;
    }

    private void scanSegment(Segment seg) throws IOException {
        long size = seg.file.size();
        sizes.put(seg.id, size);
        Window w = new Window(seg.file, size);
        long p = SegmentLayout.HEADER_BYTES;
        long maxGen = Long.MIN_VALUE;
        Group group = carried.containsKey(seg.id) ? carried.remove(seg.id) : new Group(false);
        // the last commit scanned in this segment, which intent records must follow and name
        CommitInfo segCommit = null;
        int intentsAfterCommit = 0;
        List<Tail> tail = new ArrayList<>();
        tails.put(seg.id, tail);
        while (p < size) {
            boolean whole = p + RecordLayout.HEADER_BYTES <= size;
            int len = whole ? w.plausibleLength(p) : -1;
            if (len < 0 && Log.cleanEnd(seg.file, seg.id, p)) {
                break; // zeros and fill written ahead of the log's end (FillLayout), not damage
            }
            if (!whole) {
                addDamage(seg.id, p, size, "record-header", "an incomplete record at the end of the segment", -1, -1);
                break;
            }
            if (len < 0) {
                group.broken = true;
                long q = resync(w, p + RecordLayout.ALIGNMENT, size);
                addDamage(seg.id, p, q, "record-header", "a record header is damaged (bad magic or length)"
                        + (q < size ? "; whole records resume at offset " + q : "; no whole record follows in this segment"),
                        -1, -1);
                p = q;
                continue;
            }
            ByteBuffer b = w.ensure(p, len);
            int at = w.index(p);
            byte type = b.get(at + RecordLayout.TYPE_OFFSET);
            if (!crcMatches(b, at, len)) {
                group.broken = true;
                long q = resync(w, p + RecordLayout.ALIGNMENT, size);
                addDamage(seg.id, p, q, "record-checksum", "record checksum mismatch (" + article(type) + " record)",
                        type, len);
                p = q;
                continue;
            }
            long gen = b.getLong(at + RecordLayout.GENERATION_OFFSET);
            long owner = b.getLong(at + RecordLayout.OWNER_OFFSET);
            long addr = LogAddress.of(seg.id, p);
            if (gen < maxGen) {
                group.broken = true;
                addDamage(seg.id, p, p + len, "record-stale", RecordLayout.typeName(type) + " record of generation "
                        + gen + " after records of generation " + maxGen + ": a stale or misdirected write", type, len);
                p += len;
                continue;
            }
            maxGen = gen;
            maxGeneration = Math.max(maxGeneration, gen);
            records++;
            if (type == RecordLayout.TYPE_INTENT) {
                long prev = len >= RecordLayout.HEADER_BYTES + IntentLayout.GROUPS_START
                        ? b.getLong(at + RecordLayout.HEADER_BYTES + IntentLayout.PREV_OFFSET) : LogAddress.NONE;
                int sequence = len >= RecordLayout.HEADER_BYTES + IntentLayout.GROUPS_START
                        ? b.getInt(at + RecordLayout.HEADER_BYTES + IntentLayout.SEQUENCE_OFFSET) : -1;
                String misplaced = misplacedIntent(segCommit, group, gen, prev);
                // numbered from 0 after their commit; a damaged one in between leaves a gap, but a
                // number at or below one already seen is a stale or misplaced copy
                if (misplaced == null && sequence < intentsAfterCommit) {
                    misplaced = "intent record number " + sequence + " after intent records up to number "
                            + (intentsAfterCommit - 1) + " of the commit of generation " + segCommit.generation()
                            + ": a stale or misdirected copy of another intent record";
                }
                if (misplaced != null) {
                    String kind = segCommit != null && group.records.isEmpty() ? "record-stale" : "intent-misplaced";
                    addDamage(seg.id, p, p + len, kind, misplaced + " (recovery stops here)", type, len);
                } else {
                    intents.add(new Intent(addr, len, gen, prev,
                            (b.get(at + RecordLayout.FLAGS_OFFSET) & IntentLayout.FLAG_FLUSH_END) != 0));
                    intentsAfterCommit = sequence + 1;
                    // not part of any group: the next group starts after it, as after the commit
                    if (group.records.isEmpty() && !group.broken) {
                        group = new Group(true);
                    }
                }
                p += len;
                continue;
            }
            if (type != RecordLayout.TYPE_COMMIT) {
                tail.add(new Tail(p, type, gen));
                ByteBuffer d = b.duplicate();
                d.limit(at + len).position(at);
                group.crc.update(d);
                group.records.add(new long[] {addr, gen, type});
            }
            switch (type) {
                case RecordLayout.TYPE_EXTENT_LEAF, RecordLayout.TYPE_EXTENT_INTERIOR, RecordLayout.TYPE_CATALOG_LEAF,
                     RecordLayout.TYPE_CATALOG_INTERIOR -> nodeRecords.add(addr);
                case RecordLayout.TYPE_BLOB -> {
                    nodeRecords.add(addr);
                    if (owner == 0) {
                        readMark(b, at, len, gen);
                    }
                }
                case RecordLayout.TYPE_COMMIT -> {
                    CommitInfo c = decodeCommit(b, at, addr, len, gen);
                    commits.put(addr, c);
                    mention(c.previous());
                    mention(c.catalogRoot().address());
                    closeGroup(group, c, b.getInt(at + RecordLayout.HEADER_BYTES + CommitLayout.TXG_CRC_OFFSET));
                    group = new Group(true);
                    segCommit = c;
                    intentsAfterCommit = 0;
                    tail.clear();
                }
                case RecordLayout.TYPE_NEXT_SEGMENT -> {
                    long next = b.getLong(at + RecordLayout.HEADER_BYTES);
                    nextSegment.put(seg.id, new long[] {next, p + len});
                    carried.put(next, group);
                    maxSegmentMentioned = Math.max(maxSegmentMentioned, next);
                    bytes += p + len;
                    meter.add(size - w.counted);
                    return;
                }
                case RecordLayout.TYPE_DATA_SUMMARY -> summary(b, at, len);
                default -> addDamage(seg.id, p, p + len, "record-type", "unknown record type " + type, type, len);
            }
            p += len;
        }
        bytes += size;
        meter.add(size - w.counted);
    }

    /**
     * Why an intent record of generation {@code gen} naming commit {@code prev} is out of place
     * here, or null: it must follow the last commit of its segment directly (or other intents of
     * it), carry the generation after it, and name it.
     */
    private static String misplacedIntent(CommitInfo segCommit, Group group, long gen, long prev) {
        if (segCommit == null) {
            return "an intent record that follows no commit in its segment";
        }
        if (!group.records.isEmpty()) {
            return "an intent record among the records of a transaction group (intent records follow a commit directly)";
        }
        if (prev != segCommit.address() || gen != segCommit.generation() + 1) {
            return "an intent record of generation " + gen + " naming the commit at " + LogAddress.toString(prev)
                    + ", after the commit of generation " + segCommit.generation() + " at "
                    + LogAddress.toString(segCommit.address()) + ": a stale or misdirected write";
        }
        return null;
    }

    /**
     * A commit closes its group: a record of another generation in it is a stale or
     * misdirected write; failing that, the group's records must match the commit's chained
     * checksum (a record swapped for another of the same generation and length).
     */
    private void closeGroup(Group g, CommitInfo c, int txgCrc) {
        boolean stale = false;
        for (long[] r : g.records) {
            if (r[1] != c.generation()) {
                stale = true;
                long a = r[0];
                addDamage(LogAddress.segment(a), LogAddress.offset(a), LogAddress.offset(a) + 1, "record-stale",
                        RecordLayout.typeName((int) r[2]) + " record of generation " + r[1] + " among the records of "
                                + "generation " + c.generation() + ": a stale or misdirected write", (int) r[2], -1);
            }
        }
        boolean whole = g.whole || c.previous() == LogAddress.NONE;
        if (!stale && !g.broken && whole && (int) g.crc.getValue() != txgCrc) {
            long a = c.address();
            addDamage(LogAddress.segment(a), LogAddress.offset(a), LogAddress.offset(a) + c.length(), "txg-checksum",
                    "the records of generation " + c.generation() + " do not match the checksum its commit carries "
                            + "(a record of that generation was replaced by another)", RecordLayout.TYPE_COMMIT, c.length());
        }
    }

    /** A data summary's entries (FORMAT.md, record type 5): {address u64, first lba u64, blocks u32, lineage u64}. */
    private void summary(ByteBuffer b, int at, int len) {
        int p = at + RecordLayout.HEADER_BYTES;
        long count = b.getInt(p) & 0xFFFF_FFFFL;
        if (count > (len - RecordLayout.HEADER_BYTES - 4) / SUMMARY_ENTRY_BYTES) {
            return; // a back-reference only: nothing reads it but this count
        }
        for (int i = 0; i < count; i++) {
            int e = p + 4 + i * SUMMARY_ENTRY_BYTES;
            written.addLong(b.getLong(e));
            written.addLong(b.getInt(e + 16) & 0xFFFF_FFFFL);
            written.addLong(b.getLong(e + 20));
        }
    }

    private void mention(long address) {
        if (address != LogAddress.NONE) {
            maxSegmentMentioned = Math.max(maxSegmentMentioned, LogAddress.segment(address));
        }
    }

    private void addDamage(long segment, long offset, long end, String kind, String what, int type, int length) {
        damage.add(new Damage(segment, offset, end, kind, what, type, length));
    }

    private static String article(byte type) {
        String name = RecordLayout.typeName(type);
        if (name.startsWith("unknown")) {
            return "a damaged";
        }
        return ("aeiou".indexOf(name.charAt(0)) >= 0 ? "an " : "a ") + name;
    }

    /** The first offset at or after {@code from} holding a whole record, or {@code size}. */
    private static long resync(Window w, long from, long size) throws IOException {
        for (long q = from; q + RecordLayout.HEADER_BYTES <= size; q += RecordLayout.ALIGNMENT) {
            int len = w.plausibleLength(q);
            if (len > 0) {
                ByteBuffer b = w.ensure(q, len);
                if (crcMatches(b, w.index(q), len)) {
                    return q;
                }
            }
        }
        return size;
    }

    private void readMark(ByteBuffer b, int at, int len, long gen) {
        try {
            Map<String, String> props = Catalog.decodeProperties(new UnsafeBuffer(b, at, len), RecordLayout.HEADER_BYTES);
            if (!props.containsKey(MARK_KEY)) {
                return;
            }
            Set<Long> acked = new HashSet<>();
            for (String word : props.getOrDefault(ACKNOWLEDGED_KEY, "").trim().split("\\s+")) {
                int colon = word.indexOf(':');
                if (colon > 0) {
                    acked.add(LogAddress.of(Long.parseLong(word.substring(0, colon)), Long.parseLong(word.substring(colon + 1))));
                }
            }
            marks.add(new Mark(gen, acked));
        } catch (RuntimeException ignored) {
            // a blob that is not a repair's mark
        }
    }

    static CommitInfo decodeCommit(ByteBuffer b, int at, long address, int len, long gen) {
        int p = at + RecordLayout.HEADER_BYTES;
        return new CommitInfo(address, len, gen, b.getLong(p + CommitLayout.PREV_OFFSET),
                new TreePointer(b.getLong(p + CommitLayout.CATALOG_ROOT_OFFSET), b.getInt(p + CommitLayout.CATALOG_LEN_OFFSET),
                        b.getLong(p + CommitLayout.CATALOG_GEN_OFFSET)),
                b.getLong(p + CommitLayout.NEXT_ID_OFFSET), b.getLong(p + CommitLayout.TIME_OFFSET));
    }

    /** The buffer the scan read through, for the caller's next large reads. */
    ByteBuffer buffer() {
        return windowBuffer;
    }

    /** The record's CRC32C, computed with its own crc field taken as zero, matches that field. */
    static boolean crcMatches(ByteBuffer b, int at, int len) {
        CRC32C c = new CRC32C();
        ByteBuffer d = b.duplicate();
        d.limit(at + RecordLayout.CRC_OFFSET).position(at);
        c.update(d);
        c.update(new byte[RecordLayout.CRC_BYTES], 0, RecordLayout.CRC_BYTES);
        d.limit(at + len).position(at + RecordLayout.CRC_OFFSET + RecordLayout.CRC_BYTES);
        c.update(d);
        return (int) c.getValue() == b.getInt(at + RecordLayout.CRC_OFFSET);
    }

    /** A sliding read window over one segment file: few, large, sequential reads. */
    private final class Window {
        private final StorageFile file;
        private final long size;
        private ByteBuffer buf;
        private long start;
        private int filled;
        /** Bytes of the file already told to the meter. */
        long counted;

        Window(StorageFile file, long size) {
            this.file = file;
            this.size = size;
            this.buf = windowBuffer;
        }

        ByteBuffer ensure(long pos, int len) throws IOException {
            if (pos >= start && pos + len <= start + filled) {
                return buf;
            }
            if (buf.capacity() < len) {
                buf = ByteBuffer.allocateDirect(Math.max(len, WINDOW_BYTES)).order(ByteOrder.LITTLE_ENDIAN);
                windowBuffer = buf;
            }
            buf.clear();
            buf.limit((int) Math.min(buf.capacity(), size - pos));
            int n = file.read(buf, pos);
            start = pos;
            filled = n;
            if (n < len) {
                throw new IOException(file.path() + ": short read at " + pos + " (" + n + " of " + len + " bytes)");
            }
            if (pos + n > counted) {
                meter.add(pos + n - Math.max(counted, pos));
                counted = pos + n;
            }
            return buf;
        }

        int index(long pos) {
            return (int) (pos - start);
        }

        /** The length of a record whose header at {@code p} looks sound, or -1. */
        int plausibleLength(long p) throws IOException {
            ByteBuffer b = ensure(p, RecordLayout.HEADER_BYTES);
            int at = index(p);
            int len = b.getInt(at + RecordLayout.LENGTH_OFFSET);
            if (b.getInt(at + RecordLayout.MAGIC_OFFSET) != RecordLayout.MAGIC || len < RecordLayout.HEADER_BYTES
                    || len > RecordLayout.MAX_LENGTH || (len & (RecordLayout.ALIGNMENT - 1)) != 0 || p + len > size) {
                return -1;
            }
            return len;
        }
    }
}
