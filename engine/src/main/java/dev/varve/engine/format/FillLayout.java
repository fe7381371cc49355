package dev.varve.engine.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * Space written ahead of the log's end in a meta segment, so that a commit's fsync writes into
 * blocks the file already owns instead of allocating new ones (on ext4 an fsync that extends a
 * file costs a journal commit, often several times the write). From the end of the last
 * record to the next 4 KiB boundary the bytes are zero; every 4 KiB page after that, to the
 * end of the file, is a fill page:
 * <pre>
 *  0      8         16       24     28
 *  +------+---------+--------+------+---- ... 4096
 *  |magic |segment  |offset  | crc  | zero
 *  |u64   |id u64   |u64     | u32  |
 *  +------+---------+--------+------+----
 * </pre>
 * The CRC32C covers bytes [0, CRC_OFFSET). A fill page names its own segment and offset, so a
 * zeroed page or a page of another file where fill should be is told apart from the end of
 * the log: the log ends cleanly only where the rest of the file is exactly this.
 */
public final class FillLayout {
    public static final long MAGIC = 0x4C4C49465F455652L; // "RVE_FILL" little-endian
    public static final int PAGE = 4096;
    public static final int SEGMENT_OFFSET = 8;
    public static final int PAGE_OFFSET = 16;
    public static final int CRC_OFFSET = 24;

    private FillLayout() {
    }

    /** The first page boundary at or after {@code position}. */
    public static long pageUp(long position) {
        return (position + PAGE - 1) & ~(long) (PAGE - 1);
    }

    /**
     * The bytes that belong at file offsets [from, to) of segment {@code segmentId}: zeros to
     * the first page boundary, then fill pages. {@code to} is a page boundary.
     */
    public static ByteBuffer encode(long segmentId, long from, long to) {
        if ((to & (PAGE - 1)) != 0 || to < from) {
            throw new IllegalArgumentException("fill must end on a page boundary after its start: " + from + ".." + to);
        }
        ByteBuffer b = ByteBuffer.allocate((int) (to - from)).order(ByteOrder.LITTLE_ENDIAN);
        for (long page = pageUp(from); page < to; page += PAGE) {
            int at = (int) (page - from);
            b.putLong(at, MAGIC);
            b.putLong(at + SEGMENT_OFFSET, segmentId);
            b.putLong(at + PAGE_OFFSET, page);
            b.putInt(at + CRC_OFFSET, crc(b, at));
        }
        return b;
    }

    /** True when the page at {@code at} of {@code b} is the fill page of {@code segmentId} at file offset {@code page}. */
    public static boolean isFillPage(ByteBuffer b, int at, long segmentId, long page) {
        ByteBuffer l = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (l.getLong(at) != MAGIC || l.getLong(at + SEGMENT_OFFSET) != segmentId || l.getLong(at + PAGE_OFFSET) != page
                || l.getInt(at + CRC_OFFSET) != crc(l, at)) {
            return false;
        }
        for (int i = CRC_OFFSET + 4; i < PAGE; i++) {
            if (l.get(at + i) != 0) {
                return false;
            }
        }
        return true;
    }

    private static int crc(ByteBuffer b, int at) {
        CRC32C c = new CRC32C();
        c.update(b.duplicate().limit(at + CRC_OFFSET).position(at));
        return (int) c.getValue();
    }
}
