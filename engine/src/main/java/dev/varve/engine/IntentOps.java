package dev.varve.engine;

import dev.varve.engine.format.IntentLayout;
import java.util.ArrayList;
import java.util.List;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A volume's writes and trims since its last intent record or commit, encoded as the ops of an
 * intent record ({@link IntentLayout}) in the order they reached the map. The owner appends
 * under the volume's map lock; a flush takes them when no write is in flight.
 */
public final class IntentOps {
    private ExpandableArrayBuffer buf;
    private int length;
    /** Blocks the write ops name: what a flush would copy into inline ops. */
    private long writtenBlocks;

    void write(long lba, int blocks, long address, int[] crcs) {
        writtenBlocks += blocks;
        int at = reserve(IntentLayout.writeOpBytes(blocks));
        buf.putLong(at, lba);
        buf.putInt(at + 8, blocks);
        buf.putLong(at + 12, address);
        int p = at + 20;
        for (int c : crcs) {
            buf.putInt(p, c);
            p += 4;
        }
    }

    void trim(long lba, long count) {
        int at = reserve(IntentLayout.TRIM_OP_BYTES);
        buf.putLong(at, lba);
        buf.putInt(at + 8, 0);
        buf.putLong(at + 12, count);
    }

    private int reserve(int bytes) {
        if (buf == null) {
            buf = new ExpandableArrayBuffer(4096);
        }
        int at = length;
        buf.checkLimit(at + bytes);
        length += bytes;
        return at;
    }

    int length() {
        return length;
    }

    long writtenBlocks() {
        return writtenBlocks;
    }

    /** The ops as bytes; they stay until {@link #clear()}. */
    byte[] bytes() {
        byte[] out = new byte[length];
        if (length > 0) {
            buf.getBytes(0, out);
        }
        return out;
    }

    void clear() {
        length = 0;
        writtenBlocks = 0;
        if (buf != null && buf.capacity() > (1 << 20)) {
            buf = null; // a burst's buffer is not kept for ever
        }
    }

    /** Length of the op at {@code at}. */
    static int opLength(org.agrona.DirectBuffer b, int at) {
        int blocks = b.getInt(at + 8);
        if (blocks == 0) {
            return IntentLayout.TRIM_OP_BYTES;
        }
        if ((blocks & IntentLayout.INLINE) != 0) {
            int n = blocks & ~IntentLayout.INLINE;
            return IntentLayout.inlineOpBytes(n, b.getInt(at + IntentLayout.writeOpBytes(n)));
        }
        return IntentLayout.writeOpBytes(blocks);
    }

    /** Reads data at a log address (a store's data read, write-back windows included). */
    @FunctionalInterface
    interface DataReader {
        void read(long address, java.nio.ByteBuffer dst) throws java.io.IOException;
    }

    /**
     * {@code ops} (none inline yet, naming {@code dataBytes} of data) with every write op made
     * inline: followed by the data it wrote, read back at its log address straight into the
     * result. Trims are kept as they are.
     */
    static byte[] inline(byte[] ops, int blockSize, long dataBytes, DataReader reader) throws java.io.IOException {
        UnsafeBuffer b = new UnsafeBuffer(ops);
        int writes = 0;
        for (int p = 0; p < ops.length; p += opLength(b, p)) {
            writes += b.getInt(p + 8) == 0 ? 0 : 1;
        }
        byte[] out = new byte[Math.toIntExact(ops.length + 4L * writes + dataBytes)];
        UnsafeBuffer o = new UnsafeBuffer(out);
        int q = 0;
        for (int p = 0; p < ops.length; ) {
            int len = opLength(b, p);
            int blocks = b.getInt(p + 8);
            o.putBytes(q, b, p, len);
            if (blocks == 0) {
                q += len;
            } else {
                o.putInt(q + 8, blocks | IntentLayout.INLINE);
                int bytes = blocks * blockSize;
                o.putInt(q + len, bytes);
                reader.read(b.getLong(p + 12), java.nio.ByteBuffer.wrap(out, q + len + 4, bytes));
                q += IntentLayout.inlineOpBytes(blocks, bytes);
            }
            p += len;
        }
        return out;
    }

    /** One volume's ops taken by a flush. */
    record Taken(long volumeId, byte[] ops) {
    }

    /**
     * The payloads of the intent records for {@code taken}, each at most about
     * {@link IntentLayout#MAX_PAYLOAD}; a volume's ops are split between records at op
     * boundaries, in order.
     */
    static List<byte[]> payloads(long prevCommit, int firstSequence, List<Taken> taken) {
        List<byte[]> out = new ArrayList<>();
        ExpandableArrayBuffer b = new ExpandableArrayBuffer(64 * 1024);
        int[] state = {IntentLayout.GROUPS_START, 0, firstSequence}; // write position, groups, sequence
        for (Taken t : taken) {
            UnsafeBuffer ops = new UnsafeBuffer(t.ops());
            int p = 0;
            while (p < t.ops().length) {
                if (state[0] + IntentLayout.GROUP_HEADER_BYTES + opLength(ops, p) > IntentLayout.MAX_PAYLOAD
                        && state[1] > 0) {
                    out.add(finish(b, prevCommit, state));
                }
                int groupAt = state[0];
                int q = p;
                int room = IntentLayout.MAX_PAYLOAD - groupAt - IntentLayout.GROUP_HEADER_BYTES;
                do {
                    q += opLength(ops, q);
                } while (q < t.ops().length && q - p + opLength(ops, q) <= room);
                b.putLong(groupAt, t.volumeId());
                b.putInt(groupAt + 8, q - p);
                b.putBytes(groupAt + IntentLayout.GROUP_HEADER_BYTES, ops, p, q - p);
                state[0] = groupAt + IntentLayout.GROUP_HEADER_BYTES + (q - p);
                state[1]++;
                p = q;
            }
        }
        if (state[1] > 0) {
            out.add(finish(b, prevCommit, state));
        }
        return out;
    }

    private static byte[] finish(MutableDirectBuffer b, long prevCommit, int[] state) {
        b.putLong(IntentLayout.PREV_OFFSET, prevCommit);
        b.putInt(IntentLayout.SEQUENCE_OFFSET, state[2]++);
        b.putInt(IntentLayout.GROUPS_OFFSET, state[1]);
        byte[] out = new byte[state[0]];
        b.getBytes(0, out);
        state[0] = IntentLayout.GROUPS_START;
        state[1] = 0;
        return out;
    }

    /** Receives the ops of an intent record in order. */
    public interface Replay {
        /** A write; {@code data} is the bytes an inline op carries, null for one that carries none. */
        void write(long volumeId, long lba, int blocks, long address, int[] crcs, byte[] data)
                throws java.io.IOException;

        void trim(long volumeId, long lba, long count) throws java.io.IOException;
    }

    /** What is malformed in an intent payload, and the volume id of the group it is in (0 when none). */
    public record Malformed(String why, long volume) {
    }

    /**
     * Decodes an intent payload of {@code length} bytes at {@code offset} of {@code b},
     * replaying every op in order; returns what is malformed (the ops before it were replayed),
     * or null.
     */
    public static Malformed replay(org.agrona.DirectBuffer b, int offset, int length, Replay to)
            throws java.io.IOException {
        if (length < IntentLayout.GROUPS_START) {
            return new Malformed("intent payload of " + length + " bytes is shorter than its header", 0);
        }
        int groups = b.getInt(offset + IntentLayout.GROUPS_OFFSET);
        if (groups < 0) {
            return new Malformed("intent payload gives " + groups + " groups", 0);
        }
        int p = offset + IntentLayout.GROUPS_START;
        int end = offset + length;
        for (int g = 0; g < groups; g++) {
            if (p + IntentLayout.GROUP_HEADER_BYTES > end) {
                return new Malformed("intent group " + g + " of " + groups + " runs past the record", 0);
            }
            long volume = b.getLong(p);
            int opsBytes = b.getInt(p + 8);
            p += IntentLayout.GROUP_HEADER_BYTES;
            if (opsBytes < 0 || p + opsBytes > end) {
                return new Malformed("intent group " + g + " gives " + opsBytes + " bytes of ops, past the record",
                        volume);
            }
            int opsEnd = p + opsBytes;
            while (p < opsEnd) {
                if (p + IntentLayout.OP_HEADER_BYTES > opsEnd) {
                    return new Malformed("an intent op header runs past its group", volume);
                }
                long lba = b.getLong(p);
                int field = b.getInt(p + 8);
                boolean inline = (field & IntentLayout.INLINE) != 0;
                int blocks = field & ~IntentLayout.INLINE;
                if (blocks > dev.varve.engine.btree.Extent.MAX_BLOCKS || (inline && blocks == 0)) {
                    return new Malformed("an intent op gives " + blocks + " blocks" + (inline ? " inline" : ""), volume);
                }
                int len = blocks == 0 ? IntentLayout.TRIM_OP_BYTES : IntentLayout.writeOpBytes(blocks);
                if (p + len > opsEnd) {
                    return new Malformed("an intent op runs past its group", volume);
                }
                byte[] data = null;
                if (inline) {
                    if (p + len + 4 > opsEnd) {
                        return new Malformed("an inline intent op runs past its group", volume);
                    }
                    int bytes = b.getInt(p + len);
                    if (bytes < 0 || bytes > opsEnd - (p + len + 4)) {
                        return new Malformed("an inline intent op gives " + bytes + " bytes of data, past its group",
                                volume);
                    }
                    data = new byte[bytes];
                    b.getBytes(p + len + 4, data);
                    len += 4 + bytes;
                }
                if (blocks == 0) {
                    to.trim(volume, lba, b.getLong(p + 12));
                } else {
                    int[] crcs = new int[blocks];
                    for (int i = 0; i < blocks; i++) {
                        crcs[i] = b.getInt(p + 20 + 4 * i);
                    }
                    to.write(volume, lba, blocks, b.getLong(p + 12), crcs, data);
                }
                p += len;
            }
        }
        return null;
    }
}
