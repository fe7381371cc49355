package dev.varve.engine.format;

/**
 * The header at the start of every segment file. It fills the first 4 KiB so that data in a
 * data segment starts block-aligned.
 * <pre>
 *  0      8      12     16       24            40        48     52
 *  +------+------+------+--------+-------------+---------+------+---- ... 4096
 *  |magic |format| kind |segment | store uuid  | created | crc  | zero
 *  |u64   |u32   | u32  |id u64  | 16 bytes    | u64 ms  | u32  |
 *  +------+------+------+--------+-------------+---------+------+----
 * </pre>
 * The CRC32C covers bytes [0, CRC_OFFSET). All integers are little-endian.
 */
public final class SegmentLayout {
    public static final long MAGIC = 0x4745535F45565241L; // "ARVE_SEG" little-endian
    public static final int KIND_META = 1;
    public static final int KIND_DATA = 2;

    public static final int MAGIC_OFFSET = 0;
    public static final int MAGIC_BYTES = 8;
    public static final int FORMAT_OFFSET = MAGIC_OFFSET + MAGIC_BYTES;
    public static final int FORMAT_BYTES = 4;
    public static final int KIND_OFFSET = FORMAT_OFFSET + FORMAT_BYTES;
    public static final int KIND_BYTES = 4;
    public static final int SEGMENT_ID_OFFSET = KIND_OFFSET + KIND_BYTES;
    public static final int SEGMENT_ID_BYTES = 8;
    public static final int UUID_OFFSET = SEGMENT_ID_OFFSET + SEGMENT_ID_BYTES;
    public static final int UUID_BYTES = 16;
    public static final int CREATED_OFFSET = UUID_OFFSET + UUID_BYTES;
    public static final int CREATED_BYTES = 8;
    public static final int CRC_OFFSET = CREATED_OFFSET + CREATED_BYTES;
    public static final int CRC_BYTES = 4;
    public static final int HEADER_BYTES = 4096;

    private SegmentLayout() {
    }

    public static String fileName(long segmentId) {
        return String.format("%010d.seg", segmentId);
    }

    /** The segment id a file name stands for, or -1 when the name is not a segment's. */
    public static long parseFileName(String name) {
        if (!name.endsWith(".seg") || name.length() != 14) {
            return -1;
        }
        try {
            return Long.parseLong(name.substring(0, 10));
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
