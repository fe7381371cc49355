package dev.varve.engine.format;

/**
 * The header of every metadata record in a meta segment. Records follow each other with no
 * gap, each padded to a multiple of 8 bytes, so a meta segment is read front to back.
 * <pre>
 *  0       4     5      6      8        12       16           24          32
 *  +-------+-----+------+------+--------+--------+------------+-----------+---------
 *  | magic |type |flags | zero | length | crc32c | generation | owner     | payload
 *  | u32   | u8  | u8   | u16  | u32    | u32    | u64        | u64       |
 *  +-------+-----+------+------+--------+--------+------------+-----------+---------
 * </pre>
 * {@code length} counts the header, the payload and the padding. The CRC32C covers the whole
 * record, padding included, with the crc field taken as zero. {@code generation} is the
 * transaction group that wrote the record; {@code owner} is a back-reference (the volume
 * lineage a tree node belongs to, 0 for store-wide records).
 */
public final class RecordLayout {
    public static final int MAGIC = 0x43455256; // "VREC" little-endian

    public static final byte TYPE_EXTENT_LEAF = 1;
    public static final byte TYPE_EXTENT_INTERIOR = 2;
    public static final byte TYPE_CATALOG_LEAF = 3;
    public static final byte TYPE_CATALOG_INTERIOR = 4;
    public static final byte TYPE_DATA_SUMMARY = 5;
    public static final byte TYPE_COMMIT = 6;
    public static final byte TYPE_BLOB = 7;
    /** The log continues at the start of another meta segment (payload: its id, u64). */
    public static final byte TYPE_NEXT_SEGMENT = 8;
    /** Writes made durable by a flush before their trees are committed ({@link IntentLayout}). */
    public static final byte TYPE_INTENT = 9;

    public static final int MAGIC_OFFSET = 0;
    public static final int MAGIC_BYTES = 4;
    public static final int TYPE_OFFSET = MAGIC_OFFSET + MAGIC_BYTES;
    public static final int TYPE_BYTES = 1;
    public static final int FLAGS_OFFSET = TYPE_OFFSET + TYPE_BYTES;
    public static final int FLAGS_BYTES = 1;
    public static final int RESERVED_OFFSET = FLAGS_OFFSET + FLAGS_BYTES;
    public static final int RESERVED_BYTES = 2;
    public static final int LENGTH_OFFSET = RESERVED_OFFSET + RESERVED_BYTES;
    public static final int LENGTH_BYTES = 4;
    public static final int CRC_OFFSET = LENGTH_OFFSET + LENGTH_BYTES;
    public static final int CRC_BYTES = 4;
    public static final int GENERATION_OFFSET = CRC_OFFSET + CRC_BYTES;
    public static final int GENERATION_BYTES = 8;
    public static final int OWNER_OFFSET = GENERATION_OFFSET + GENERATION_BYTES;
    public static final int OWNER_BYTES = 8;
    public static final int HEADER_BYTES = OWNER_OFFSET + OWNER_BYTES;

    public static final int ALIGNMENT = 8;
    /** Largest record accepted (a 1 MiB property value plus its framing fits). */
    public static final int MAX_LENGTH = 4 * 1024 * 1024;

    private RecordLayout() {
    }

    public static int paddedLength(int payloadBytes) {
        int n = HEADER_BYTES + payloadBytes;
        return (n + ALIGNMENT - 1) & -ALIGNMENT;
    }

    public static String typeName(int type) {
        return switch (type) {
            case TYPE_EXTENT_LEAF -> "extent-leaf";
            case TYPE_EXTENT_INTERIOR -> "extent-interior";
            case TYPE_CATALOG_LEAF -> "catalog-leaf";
            case TYPE_CATALOG_INTERIOR -> "catalog-interior";
            case TYPE_DATA_SUMMARY -> "data-summary";
            case TYPE_COMMIT -> "commit";
            case TYPE_BLOB -> "blob";
            case TYPE_NEXT_SEGMENT -> "next-segment";
            case TYPE_INTENT -> "intent";
            default -> "unknown(" + type + ")";
        };
    }
}
