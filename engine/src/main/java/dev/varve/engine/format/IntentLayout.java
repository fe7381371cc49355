package dev.varve.engine.format;

/**
 * The payload of an intent record (type {@link RecordLayout#TYPE_INTENT}): writes and trims a
 * flush made durable before the next commit writes the trees that hold them, as ZFS's intent
 * log does. The record header's generation is the open (not yet committed) generation, which
 * is also the birth of every extent the record adds.
 * <pre>
 *  0              8          12       16
 *  +--------------+----------+--------+-----------------------------------
 *  | prev commit  | sequence | groups | group, group, ...
 *  | addr u64     | u32      | u32    |
 *  +--------------+----------+--------+-----------------------------------
 *
 *  group:   volume id u64 | ops bytes u32 | ops
 *  write:   lba u64 | blocks u32 (1..64) | log address u64 | crc32c u32 × blocks
 *  inline:  lba u64 | blocks u32 (1..64) | INLINE | log address u64 | crc32c u32 × blocks
 *           | data bytes u32 | data
 *  trim:    lba u64 | 0 u32               | block count u64
 * </pre>
 * An inline write carries its data, as ZFS's intent log copies small synchronous writes into
 * the log: a small flush then forces the meta segment only, not the data segment too. The
 * data is also at its log address, unforced; recovery puts it back there from the record
 * before anything reads it (the next commit forces it).
 * {@code sequence} counts the intent records after the commit, from 0, so a stale copy of
 * another intent is told apart; the header flag {@link #FLAG_FLUSH_END} marks the last record
 * a flush wrote. Ops are in the order they reached the volume's map, so replaying them in order rebuilds
 * exactly the map the flush saw. Intent records follow the commit they name as {@code prev
 * commit}, in that commit's meta segment (an intent never moves the log to a new segment);
 * the next commit makes them obsolete. Recovery replays the ones after the last commit,
 * stopping at the first that does not verify; the flush that wrote a torn one never returned,
 * unless whole records of two later flushes follow it (see {@code Recovery}): then it is damage,
 * and a read-write open is refused.
 */
public final class IntentLayout {
    public static final int PREV_OFFSET = 0;
    public static final int SEQUENCE_OFFSET = 8;
    public static final int GROUPS_OFFSET = 12;
    public static final int GROUPS_START = 16;
    /** Record header flag: the last intent record its flush wrote. */
    public static final byte FLAG_FLUSH_END = 1;
    public static final int GROUP_HEADER_BYTES = 8 + 4;
    public static final int OP_HEADER_BYTES = 8 + 4;
    /** Bytes of a write op of {@code blocks} blocks. */
    public static int writeOpBytes(int blocks) {
        return OP_HEADER_BYTES + 8 + 4 * blocks;
    }
    public static final int TRIM_OP_BYTES = OP_HEADER_BYTES + 8;
    /** Flag in a write op's block count: the op carries its data ({@link #inlineOpBytes}). */
    public static final int INLINE = 1 << 31;
    /** Bytes of an inline write op of {@code blocks} blocks carrying {@code dataBytes} of data. */
    public static int inlineOpBytes(int blocks, int dataBytes) {
        return writeOpBytes(blocks) + 4 + dataBytes;
    }
    /** Payload bytes at which a flush starts another intent record. */
    public static final int MAX_PAYLOAD = 1 << 20;

    private IntentLayout() {
    }
}
