package dev.varve.engine.format;

/**
 * The payload of a commit record (type {@link RecordLayout#TYPE_COMMIT}); the record header's
 * generation is the commit's generation.
 * <pre>
 *  0            8                16             24            28            36        44
 *  +------------+----------------+--------------+-------------+-------------+---------+----------+
 *  | prev commit| catalog root   | catalog root | catalog root| next id     | time    | txg crc  |
 *  | addr u64   | addr u64       | gen u64      | length u32  | u64         | ms u64  | u32      |
 *  +------------+----------------+--------------+-------------+-------------+---------+----------+
 * </pre>
 * {@code txg crc} is the CRC32C of every record of the transaction group that precedes this
 * one in the log, chained in log order: a commit is accepted only if every record of its
 * group is present and intact.
 */
public final class CommitLayout {
    public static final int PREV_OFFSET = 0;
    public static final int PREV_BYTES = 8;
    public static final int CATALOG_ROOT_OFFSET = PREV_OFFSET + PREV_BYTES;
    public static final int CATALOG_ROOT_BYTES = 8;
    public static final int CATALOG_GEN_OFFSET = CATALOG_ROOT_OFFSET + CATALOG_ROOT_BYTES;
    public static final int CATALOG_GEN_BYTES = 8;
    public static final int CATALOG_LEN_OFFSET = CATALOG_GEN_OFFSET + CATALOG_GEN_BYTES;
    public static final int CATALOG_LEN_BYTES = 4;
    public static final int NEXT_ID_OFFSET = CATALOG_LEN_OFFSET + CATALOG_LEN_BYTES;
    public static final int NEXT_ID_BYTES = 8;
    public static final int TIME_OFFSET = NEXT_ID_OFFSET + NEXT_ID_BYTES;
    public static final int TIME_BYTES = 8;
    public static final int TXG_CRC_OFFSET = TIME_OFFSET + TIME_BYTES;
    public static final int TXG_CRC_BYTES = 4;
    public static final int PAYLOAD_BYTES = TXG_CRC_OFFSET + TXG_CRC_BYTES;

    private CommitLayout() {
    }
}
