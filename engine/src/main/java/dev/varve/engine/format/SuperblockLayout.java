package dev.varve.engine.format;

/**
 * The file {@code SUPERBLOCK} holds two 4 KiB slots, written alternately (slot = sequence
 * mod 2), so a torn superblock write always leaves the other copy whole.
 * <pre>
 *  0      8       12     16       24       40      48           56           60
 *  +------+-------+------+--------+--------+-------+------------+------------+--------+------+
 *  |magic |format |block | seq    | store  |segment| commit     | generation | commit | crc  |
 *  |u64   |u32    |zero  | u64    | uuid 16| size  | addr u64   | u64        | len u32| u32  |
 *  +------+-------+------+--------+--------+-------+------------+------------+--------+------+
 * </pre>
 * The CRC32C covers bytes [0, CRC_OFFSET). The commit named is a recent durable commit;
 * opening rolls forward through later valid commits in the log.
 */
public final class SuperblockLayout {
    public static final String FILE_NAME = "SUPERBLOCK";
    public static final long MAGIC = 0x4B4C425245505553L; // "SUPERBLK" little-endian
    public static final int SLOT_BYTES = 4096;
    public static final int SLOTS = 2;

    public static final int MAGIC_OFFSET = 0;
    public static final int MAGIC_BYTES = 8;
    public static final int FORMAT_OFFSET = MAGIC_OFFSET + MAGIC_BYTES;
    public static final int FORMAT_BYTES = 4;
    /** The store's size limit in segments (0 = none); written as zero before limits existed. */
    public static final int MAX_SEGMENTS_OFFSET = FORMAT_OFFSET + FORMAT_BYTES;
    public static final int MAX_SEGMENTS_BYTES = 4;
    public static final int SEQUENCE_OFFSET = MAX_SEGMENTS_OFFSET + MAX_SEGMENTS_BYTES;
    public static final int SEQUENCE_BYTES = 8;
    public static final int UUID_OFFSET = SEQUENCE_OFFSET + SEQUENCE_BYTES;
    public static final int UUID_BYTES = 16;
    public static final int SEGMENT_SIZE_OFFSET = UUID_OFFSET + UUID_BYTES;
    public static final int SEGMENT_SIZE_BYTES = 8;
    public static final int COMMIT_OFFSET = SEGMENT_SIZE_OFFSET + SEGMENT_SIZE_BYTES;
    public static final int COMMIT_BYTES = 8;
    public static final int GENERATION_OFFSET = COMMIT_OFFSET + COMMIT_BYTES;
    public static final int GENERATION_BYTES = 8;
    public static final int COMMIT_LEN_OFFSET = GENERATION_OFFSET + GENERATION_BYTES;
    public static final int COMMIT_LEN_BYTES = 4;
    public static final int CRC_OFFSET = COMMIT_LEN_OFFSET + COMMIT_LEN_BYTES;
    public static final int CRC_BYTES = 4;

    private SuperblockLayout() {
    }
}
