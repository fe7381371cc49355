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
                         long end) {
        public Result(CommitInfo last, int commitsReplayed, boolean tailAfterLast) {
            this(last, commitsReplayed, tailAfterLast, List.of(),
                    LogAddress.offset(last.address()) + last.length());
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
                    break outer;
                }
                UnsafeBuffer rec;
                try {
                    rec = log.readRecord(LogAddress.of(s, p), len);
                } catch (CorruptionException e) {
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
        return new Result(last, replayed, tail, intents, pos);
    }
}
