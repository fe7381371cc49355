package dev.varve.engine.log;

import dev.varve.engine.CorruptionException;
import dev.varve.engine.LogAddress;
import dev.varve.engine.btree.TreePointer;
import dev.varve.engine.format.CommitLayout;
import dev.varve.engine.format.IntentLayout;
import dev.varve.engine.format.RecordLayout;
import dev.varve.engine.format.SegmentLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Opening: from the commit a superblock names, roll forward through every later transaction
 * group that is whole. A group is whole when each of its records passes its checksum, the
 * commit record that closes it has the next generation and points back at the previous
 * commit, and the chained checksum in the commit matches the group's records. The first group
 * that is not whole ends the log: it was being written when the store stopped, and its flush
 * never returned.
 *
 * <p>Intent records ({@link dev.varve.engine.format.IntentLayout}) may follow a commit in its
 * own segment, each of the open generation and naming that commit. They are not part of the
 * next group's chained checksum: the next group's records start after the last intent. The
 * next commit makes them obsolete; the ones after the last commit are returned for replay.
 */
public final class Recovery {

    /**
     * Where the log ends: the last whole commit; the intent records after it that verify, in
     * log order (address, length), which the opener replays; where the next record goes (in
     * the last commit's segment, after those intents); and whether anything follows that.
     */
    public record Result(CommitInfo last, int commitsReplayed, boolean tailAfterLast, List<long[]> intents,
                         long end, CorruptionException damagedIntent) {
        public Result(CommitInfo last, int commitsReplayed, boolean tailAfterLast) {
            this(last, commitsReplayed, tailAfterLast, List.of(),
                    LogAddress.offset(last.address()) + last.length(), null);
        }
    }

    private Recovery() {
    }

    public static CommitInfo readCommit(Log log, long address, int length) throws IOException {
        UnsafeBuffer u = log.readRecord(address, length);
        if (u.getByte(RecordLayout.TYPE_OFFSET) != RecordLayout.TYPE_COMMIT) {
            throw new CorruptionException(log.segment(LogAddress.segment(address)).file.path(), address,
                    "expected a commit record, found " + RecordLayout.typeName(u.getByte(RecordLayout.TYPE_OFFSET)));
        }
        return decodeCommit(u, address, length);
    }

    static CommitInfo decodeCommit(UnsafeBuffer u, long address, int length) {
        int p = RecordLayout.HEADER_BYTES;
        return new CommitInfo(address, length, u.getLong(RecordLayout.GENERATION_OFFSET),
                u.getLong(p + CommitLayout.PREV_OFFSET),
                new TreePointer(u.getLong(p + CommitLayout.CATALOG_ROOT_OFFSET),
                        u.getInt(p + CommitLayout.CATALOG_LEN_OFFSET),
                        u.getLong(p + CommitLayout.CATALOG_GEN_OFFSET)),
                u.getLong(p + CommitLayout.NEXT_ID_OFFSET), u.getLong(p + CommitLayout.TIME_OFFSET));
    }

    public static Result rollForward(Log log, CommitInfo start) throws IOException {
        CommitInfo last = start;
        int replayed = 0;
        long seg = LogAddress.segment(start.address());
        long pos = LogAddress.offset(start.address()) + start.length();
        List<long[]> intents = new ArrayList<>();
        CorruptionException damaged = null;
        outer:
        while (true) {
            CRC32C chain = new CRC32C();
            int chained = 0;
            long s = seg;
            long p = pos;
            while (true) {
                Segment segment = log.segment(s);
                long size = segment.file.size();
                if (p + RecordLayout.HEADER_BYTES > size) {
                    break outer;
                }
                ByteBuffer hb = ByteBuffer.allocate(RecordLayout.HEADER_BYTES);
                segment.file.read(hb, p);
                UnsafeBuffer h = new UnsafeBuffer(hb);
                int len = h.getInt(RecordLayout.LENGTH_OFFSET);
                if (h.getInt(RecordLayout.MAGIC_OFFSET) != RecordLayout.MAGIC || len < RecordLayout.HEADER_BYTES
                        || len > RecordLayout.MAX_LENGTH || (len & (RecordLayout.ALIGNMENT - 1)) != 0 || p + len > size) {
                    if (s == seg && chained == 0) {
                        damaged = damagedIntent(log, segment, p, size, last, intents.size());
                    }
                    break outer;
                }
                UnsafeBuffer rec;
                try {
                    rec = log.readRecord(LogAddress.of(s, p), len);
                } catch (CorruptionException e) {
                    if (s == seg && chained == 0) {
                        damaged = damagedIntent(log, segment, p, size, last, intents.size());
                    }
                    break outer;
                }
                long gen = rec.getLong(RecordLayout.GENERATION_OFFSET);
                byte type = rec.getByte(RecordLayout.TYPE_OFFSET);
                if (gen != last.generation() + 1) {
                    break outer;
                }
                if (type == RecordLayout.TYPE_COMMIT) {
                    CommitInfo c = decodeCommit(rec, LogAddress.of(s, p), len);
                    int txgCrc = rec.getInt(RecordLayout.HEADER_BYTES + CommitLayout.TXG_CRC_OFFSET);
                    if (c.previous() != last.address() || txgCrc != (int) chain.getValue()) {
                        break outer;
                    }
                    last = c;
                    replayed++;
                    intents.clear();
                    seg = s;
                    pos = p + len;
                    continue outer;
                }
                if (type == RecordLayout.TYPE_INTENT) {
                    // only straight after the commit it names or another intent, in its segment
                    if (s != seg || chained != 0 || rec.getLong(RecordLayout.HEADER_BYTES + IntentLayout.PREV_OFFSET)
                            != last.address()
                            || rec.getInt(RecordLayout.HEADER_BYTES + IntentLayout.SEQUENCE_OFFSET) != intents.size()) {
                        break outer;
                    }
                    intents.add(new long[] {LogAddress.of(s, p), len});
                    pos = p + len;
                    p = pos;
                    continue;
                }
                chained++;
                chain.update(rec.byteBuffer().duplicate().position(0).limit(len));
                if (type == RecordLayout.TYPE_NEXT_SEGMENT) {
                    long next = rec.getLong(RecordLayout.HEADER_BYTES);
                    try {
                        log.segment(next);
                    } catch (CorruptionException e) {
                        break outer;
                    }
                    s = next;
                    p = SegmentLayout.HEADER_BYTES;
                } else {
                    p += len;
                }
            }
        }
        // bytes after the end in its segment (a group that never completed, which may name a
        // next segment) are stepped over, never appended to; zeros and fill written ahead of
        // the end are not such bytes (see FillLayout)
        boolean tail = !Log.cleanEnd(log.segment(seg).file, seg, pos);
        return new Result(last, replayed, tail, intents, pos, damaged);
    }

    /**
     * The log ends at {@code p}, in the intent records after {@code last}, at a record that is
     * not whole: a torn write, unless flushes made durable after it prove it was synced. Flushes
     * log their intent records one after another under the commit mutex, each forced before the
     * next is written, so whole intent records of two flushes after it (one that ends its flush,
     * {@link IntentLayout#FLAG_FLUSH_END}, and the next one) mean its flush was forced before
     * they were written: the record was damaged afterwards. Returns that damage, or null.
     * Records of one flush alone prove nothing, since a power cut may keep any of them.
     */
    private static CorruptionException damagedIntent(Log log, Segment segment, long p, long size, CommitInfo last,
                                                     int sequence) throws IOException {
        // the next record starts within the longest intent record from here: that stretch is
        // read once and searched for record magic in memory
        long scanEnd = Math.min(size, p + RecordLayout.paddedLength(IntentLayout.MAX_PAYLOAD) + RecordLayout.ALIGNMENT);
        ByteBuffer window = ByteBuffer.allocate((int) Math.max(0, scanEnd - p)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        while (window.hasRemaining()) {
            if (segment.file.read(window, p + window.position()) <= 0) {
                break;
            }
        }
        int filled = window.position();
        int expected = -1;
        boolean flushEnded = false;
        long q = p + RecordLayout.ALIGNMENT;
        while (q + RecordLayout.HEADER_BYTES <= size && (expected >= 0 || q < scanEnd)) {
            if (expected < 0 && (q - p + 4 > filled || window.getInt((int) (q - p) + RecordLayout.MAGIC_OFFSET)
                    != RecordLayout.MAGIC)) {
                q += RecordLayout.ALIGNMENT;
                continue;
            }
            UnsafeBuffer rec = wholeIntent(log, segment, q, size, last);
            int seq = rec == null ? -1 : rec.getInt(RecordLayout.HEADER_BYTES + IntentLayout.SEQUENCE_OFFSET);
            if (rec == null || seq <= sequence || (expected >= 0 && seq != expected)) {
                if (expected >= 0) {
                    return null; // the chain after the damage ends before a second flush
                }
                q += RecordLayout.ALIGNMENT;
                continue;
            }
            if (flushEnded) {
                return new CorruptionException(segment.file.path(), LogAddress.of(segment.id, p), "the record after "
                        + sequence + " intent record(s) of the commit of generation " + last.generation()
                        + " is damaged, and whole intent records of later flushes follow it: the flush that wrote it"
                        + " was made durable, so this is damage, not a write a crash cut short, and the flushes in it"
                        + " and after it cannot be replayed; opening read-write would go on without them. 'varve fsck'"
                        + " says which writes they hold and 'varve fsck --repair' goes on without them; a read-only"
                        + " open shows the store as the records before the damage leave it");
            }
            flushEnded = (rec.getByte(RecordLayout.FLAGS_OFFSET) & IntentLayout.FLAG_FLUSH_END) != 0;
            expected = seq + 1;
            q += rec.getInt(RecordLayout.LENGTH_OFFSET);
        }
        return null;
    }

    /** The whole intent record of the open generation naming {@code last} at {@code q}, or null. */
    private static UnsafeBuffer wholeIntent(Log log, Segment segment, long q, long size, CommitInfo last)
            throws IOException {
        ByteBuffer hb = ByteBuffer.allocate(RecordLayout.HEADER_BYTES);
        segment.file.read(hb, q);
        UnsafeBuffer h = new UnsafeBuffer(hb);
        int len = h.getInt(RecordLayout.LENGTH_OFFSET);
        if (h.getInt(RecordLayout.MAGIC_OFFSET) != RecordLayout.MAGIC
                || h.getByte(RecordLayout.TYPE_OFFSET) != RecordLayout.TYPE_INTENT
                || len < RecordLayout.HEADER_BYTES + IntentLayout.GROUPS_START || len > RecordLayout.MAX_LENGTH
                || (len & (RecordLayout.ALIGNMENT - 1)) != 0 || q + len > size) {
            return null;
        }
        UnsafeBuffer rec;
        try {
            rec = log.readRecord(LogAddress.of(segment.id, q), len);
        } catch (CorruptionException e) {
            return null;
        }
        return rec.getLong(RecordLayout.GENERATION_OFFSET) == last.generation() + 1
                && rec.getLong(RecordLayout.HEADER_BYTES + IntentLayout.PREV_OFFSET) == last.address() ? rec : null;
    }
}
