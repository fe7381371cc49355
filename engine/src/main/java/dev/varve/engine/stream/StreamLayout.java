package dev.varve.engine.stream;

/**
 * The send stream: frames back to back, each checksummed, the first a BEGIN frame and the
 * last an END frame whose trailer checks the whole stream. All integers little-endian,
 * checksums CRC32C. docs/FORMAT.md ("Send stream") mirrors this class.
 * <pre>
 *  frame:  0      1      4        8          16          16+n
 *          +------+------+--------+----------+-----------+--------+
 *          | type | zero | length | sequence | payload   | crc32c |
 *          | u8   | u8*3 | u32    | u64      | length B  | u32    |
 *          +------+------+--------+----------+-----------+--------+
 * </pre>
 * {@code sequence} numbers the frames from 0, so a dropped, repeated or reordered frame is
 * caught where it happens; the CRC32C covers the frame header and the payload. The END
 * frame's stream CRC is the CRC32C of every earlier frame's 16-byte header followed by its
 * 4-byte CRC: with the frame CRCs it covers every byte, reading each only once.
 */
public final class StreamLayout {
    /** "VARVSEND" as a little-endian u64: the first 8 bytes of the BEGIN payload. */
    public static final long MAGIC = 0x444E455356524156L;
    public static final int VERSION = 1;
    public static final int OLDEST_READABLE = 1;

    public static final byte TYPE_BEGIN = 1;
    public static final byte TYPE_DATA = 2;
    public static final byte TYPE_HOLE = 3;
    public static final byte TYPE_END = 4;

    // ---- frame header
    public static final int TYPE_OFFSET = 0;
    public static final int TYPE_BYTES = 1;
    public static final int RESERVED_OFFSET = TYPE_OFFSET + TYPE_BYTES;
    public static final int RESERVED_BYTES = 3;
    public static final int LENGTH_OFFSET = RESERVED_OFFSET + RESERVED_BYTES;
    public static final int LENGTH_BYTES = 4;
    public static final int SEQUENCE_OFFSET = LENGTH_OFFSET + LENGTH_BYTES;
    public static final int SEQUENCE_BYTES = 8;
    public static final int HEADER_BYTES = SEQUENCE_OFFSET + SEQUENCE_BYTES;
    public static final int CRC_BYTES = 4;
    /** Bytes a frame adds to its payload. */
    public static final int FRAME_OVERHEAD = HEADER_BYTES + CRC_BYTES;

    // ---- BEGIN payload: fixed part, then names and properties
    public static final int MAGIC_OFFSET = 0;
    public static final int MAGIC_BYTES = 8;
    public static final int VERSION_OFFSET = MAGIC_OFFSET + MAGIC_BYTES;
    public static final int VERSION_BYTES = 4;
    public static final int FLAGS_OFFSET = VERSION_OFFSET + VERSION_BYTES;
    public static final int FLAGS_BYTES = 4;
    public static final int SNAPSHOT_GUID_OFFSET = FLAGS_OFFSET + FLAGS_BYTES;
    public static final int GUID_BYTES = 16;
    public static final int BASE_GUID_OFFSET = SNAPSHOT_GUID_OFFSET + GUID_BYTES;
    public static final int PARENT_GUID_OFFSET = BASE_GUID_OFFSET + GUID_BYTES;
    public static final int SIZE_OFFSET = PARENT_GUID_OFFSET + GUID_BYTES;
    public static final int SIZE_BYTES = 8;
    public static final int BLOCK_SIZE_OFFSET = SIZE_OFFSET + SIZE_BYTES;
    public static final int BLOCK_SIZE_BYTES = 4;
    public static final int BEGIN_RESERVED_OFFSET = BLOCK_SIZE_OFFSET + BLOCK_SIZE_BYTES;
    public static final int BEGIN_RESERVED_BYTES = 4;
    public static final int RESUME_OFFSET_OFFSET = BEGIN_RESERVED_OFFSET + BEGIN_RESERVED_BYTES;
    public static final int RESUME_OFFSET_BYTES = 8;
    public static final int DATA_BYTES_OFFSET = RESUME_OFFSET_OFFSET + RESUME_OFFSET_BYTES;
    public static final int DATA_BYTES_BYTES = 8;
    public static final int CREATED_OFFSET = DATA_BYTES_OFFSET + DATA_BYTES_BYTES;
    public static final int CREATED_BYTES = 8;
    /** Then: volume name, snapshot name, base snapshot name (u16 + UTF-8 each), properties. */
    public static final int BEGIN_FIXED_BYTES = CREATED_OFFSET + CREATED_BYTES;

    public static final int FLAG_INCREMENTAL = 1;
    public static final int FLAG_RESUMED = 2;

    // ---- DATA payload: offset, then the bytes
    public static final int DATA_OFFSET_OFFSET = 0;
    public static final int DATA_OFFSET_BYTES = 8;
    public static final int DATA_BYTES_START = DATA_OFFSET_OFFSET + DATA_OFFSET_BYTES;

    // ---- HOLE payload
    public static final int HOLE_OFFSET_OFFSET = 0;
    public static final int HOLE_OFFSET_BYTES = 8;
    public static final int HOLE_LENGTH_OFFSET = HOLE_OFFSET_OFFSET + HOLE_OFFSET_BYTES;
    public static final int HOLE_LENGTH_BYTES = 8;
    public static final int HOLE_PAYLOAD_BYTES = HOLE_LENGTH_OFFSET + HOLE_LENGTH_BYTES;

    // ---- END payload (the trailer)
    public static final int END_FRAMES_OFFSET = 0;
    public static final int END_FRAMES_BYTES = 8;
    public static final int END_DATA_BYTES_OFFSET = END_FRAMES_OFFSET + END_FRAMES_BYTES;
    public static final int END_DATA_BYTES_BYTES = 8;
    public static final int END_HOLE_BYTES_OFFSET = END_DATA_BYTES_OFFSET + END_DATA_BYTES_BYTES;
    public static final int END_HOLE_BYTES_BYTES = 8;
    public static final int END_STREAM_CRC_OFFSET = END_HOLE_BYTES_OFFSET + END_HOLE_BYTES_BYTES;
    public static final int END_STREAM_CRC_BYTES = 4;
    public static final int END_RESERVED_OFFSET = END_STREAM_CRC_OFFSET + END_STREAM_CRC_BYTES;
    public static final int END_RESERVED_BYTES = 4;
    public static final int END_PAYLOAD_BYTES = END_RESERVED_OFFSET + END_RESERVED_BYTES;

    /** Largest BEGIN payload a reader accepts (properties are at most a few MiB). */
    public static final int MAX_BEGIN_PAYLOAD = 32 << 20;
    /** Largest run of bytes one DATA frame may carry; the sender uses {@link #SEND_DATA_BYTES}. */
    public static final int MAX_DATA_BYTES = 16 << 20;
    public static final int SEND_DATA_BYTES = 1 << 20;

    /** Snapshot property holding the identity of a snapshot that was received. */
    public static final String GUID_PROPERTY = "varve:guid";
    /** Property of a partial receive's volume: where to resume (a {@link ResumeToken}). */
    public static final String RESUME_TOKEN_PROPERTY = "varve:resume-token";
    /** A receive into VOLUME builds it in the volume {@code PARTIAL_PREFIX + VOLUME} first. */
    public static final String PARTIAL_PREFIX = "%recv-";

    private StreamLayout() {
    }

    public static String typeName(int type) {
        return switch (type) {
            case TYPE_BEGIN -> "BEGIN";
            case TYPE_DATA -> "DATA";
            case TYPE_HOLE -> "HOLE";
            case TYPE_END -> "END";
            default -> "unknown (" + type + ")";
        };
    }
}
