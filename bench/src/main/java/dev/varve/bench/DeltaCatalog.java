package dev.varve.bench;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The catalog of a {@link FilePerDelta} disk: a journal of which layer is whose parent, which
 * layer each snapshot froze and which layer is each head's writable top (the role of VMware's
 * .vmsd and descriptor files). Each change is one checksummed record, appended and forced.
 *
 * <pre>
 * catalog.log
 *  0        4        8
 *  +--------+--------+--------------------------------+
 *  | LENGTH | CRC32C | OPS (LENGTH bytes)             |  CRC32C covers OPS
 *  +--------+--------+--------------------------------+
 *  op = code byte, then: HEADER size:long blockSize:int | LAYER id:long parent:long
 *     | DROP_LAYER id:long | PARENT id:long parent:long | SNAPSHOT name layer:long
 *     | DROP_SNAPSHOT name | HEAD name layer:long | DROP_HEAD name ; name = u16 length + UTF-8
 * </pre>
 *
 * Opening replays the records up to the first torn or damaged one and cuts the file there: the
 * change that record began never happened.
 */
final class DeltaCatalog implements Closeable {
    static final String FILE_NAME = "catalog.log";
    static final int RECORD_LENGTH_OFFSET = 0;
    static final int RECORD_LENGTH_BYTES = 4;
    static final int RECORD_CRC_OFFSET = RECORD_LENGTH_OFFSET + RECORD_LENGTH_BYTES;
    static final int RECORD_CRC_BYTES = 4;
    static final int RECORD_OPS_OFFSET = RECORD_CRC_OFFSET + RECORD_CRC_BYTES;

    private static final byte OP_HEADER = 1;
    private static final byte OP_LAYER = 2;
    private static final byte OP_DROP_LAYER = 3;
    private static final byte OP_PARENT = 4;
    private static final byte OP_SNAPSHOT = 5;
    private static final byte OP_DROP_SNAPSHOT = 6;
    private static final byte OP_HEAD = 7;
    private static final byte OP_DROP_HEAD = 8;

    private final FileChannel ch;
    private long end;

    private DeltaCatalog(FileChannel ch, long end) {
        this.ch = ch;
        this.end = end;
    }

    static DeltaCatalog create(Path dir) throws IOException {
        return new DeltaCatalog(FileChannel.open(dir.resolve(FILE_NAME), StandardOpenOption.CREATE_NEW,
                StandardOpenOption.READ, StandardOpenOption.WRITE), 0);
    }

    /** Opens the journal, filling {@code into} with what it says. */
    static DeltaCatalog open(Path dir, Replay into) throws IOException {
        FileChannel ch = FileChannel.open(dir.resolve(FILE_NAME), StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            replay(ch, into);
            if (ch.size() > into.end) {
                ch.truncate(into.end);
            }
            return new DeltaCatalog(ch, into.end);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }

    /** A batch of catalog operations, applied atomically as one checksummed record. */
    static final class Ops {
        private ByteBuffer b = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);

        private Ops room(int n) {
            if (b.remaining() < n) {
                ByteBuffer g = ByteBuffer.allocate(Math.max(b.capacity() * 2, b.position() + n)).order(ByteOrder.LITTLE_ENDIAN);
                b.flip();
                g.put(b);
                b = g;
            }
            return this;
        }

        private Ops name(String s) {
            byte[] u = s.getBytes(StandardCharsets.UTF_8);
            room(2 + u.length);
            b.putShort((short) u.length).put(u);
            return this;
        }

        Ops header(long size, int blockSize) {
            room(13).b.put(OP_HEADER).putLong(size).putInt(blockSize);
            return this;
        }

        Ops layer(long id, long parent) {
            room(17).b.put(OP_LAYER).putLong(id).putLong(parent);
            return this;
        }

        Ops dropLayer(long id) {
            room(9).b.put(OP_DROP_LAYER).putLong(id);
            return this;
        }

        Ops parent(long id, long parent) {
            room(17).b.put(OP_PARENT).putLong(id).putLong(parent);
            return this;
        }

        Ops snapshot(String name, long layer) {
            room(1).b.put(OP_SNAPSHOT);
            name(name);
            room(8).b.putLong(layer);
            return this;
        }

        Ops dropSnapshot(String name) {
            room(1).b.put(OP_DROP_SNAPSHOT);
            return name(name);
        }

        Ops head(String name, long layer) {
            room(1).b.put(OP_HEAD);
            name(name);
            room(8).b.putLong(layer);
            return this;
        }

        Ops dropHead(String name) {
            room(1).b.put(OP_DROP_HEAD);
            return name(name);
        }
    }

    /** Appends one batch as one record and forces it: the change has happened once this returns. */
    void append(Ops ops) throws IOException {
        ByteBuffer payload = ops.b.duplicate().flip();
        int len = payload.remaining();
        ByteBuffer rec = ByteBuffer.allocate(RECORD_OPS_OFFSET + len).order(ByteOrder.LITTLE_ENDIAN);
        CRC32C crc = new CRC32C();
        crc.update(payload.duplicate());
        rec.putInt(RECORD_LENGTH_OFFSET, len).putInt(RECORD_CRC_OFFSET, (int) crc.getValue());
        rec.position(RECORD_OPS_OFFSET);
        rec.put(payload);
        rec.flip();
        DeltaLayer.writeFully(ch, rec, end);
        // the one fsync that makes this catalog change happen
        ch.force(false);
        end += RECORD_OPS_OFFSET + len;
    }

    /** What the catalog journal says, replayed up to its first torn or damaged record. */
    static final class Replay {
        long size;
        int blockSize;
        long end;
        long maxId = -1;
        final Map<Long, Long> layers = new LinkedHashMap<>();
        final Map<String, Long> heads = new LinkedHashMap<>();
        final Map<String, Long> snapshots = new LinkedHashMap<>();
    }

    private static void replay(FileChannel cat, Replay r) throws IOException {
        ByteBuffer all = ByteBuffer.allocate((int) cat.size()).order(ByteOrder.LITTLE_ENDIAN);
        DeltaLayer.readFully(cat, all, 0);
        all.flip();
        CRC32C crc = new CRC32C();
        int pos = 0;
        while (all.limit() - pos >= RECORD_OPS_OFFSET) {
            int len = all.getInt(pos + RECORD_LENGTH_OFFSET);
            if (len < 0 || pos + RECORD_OPS_OFFSET + len > all.limit()) {
                break;
            }
            ByteBuffer ops = all.duplicate().position(pos + RECORD_OPS_OFFSET).limit(pos + RECORD_OPS_OFFSET + len).slice()
                    .order(ByteOrder.LITTLE_ENDIAN);
            crc.reset();
            crc.update(ops.duplicate());
            if ((int) crc.getValue() != all.getInt(pos + RECORD_CRC_OFFSET)) {
                break;
            }
            apply(r, ops);
            pos += RECORD_OPS_OFFSET + len;
        }
        if (r.blockSize == 0) {
            throw new IOException("catalog.log has no header record: not a file-per-delta disk");
        }
        r.end = pos;
    }

    private static void apply(Replay r, ByteBuffer ops) throws IOException {
        while (ops.hasRemaining()) {
            byte op = ops.get();
            switch (op) {
                case OP_HEADER -> {
                    r.size = ops.getLong();
                    r.blockSize = ops.getInt();
                }
                case OP_LAYER -> {
                    long id = ops.getLong();
                    r.layers.put(id, ops.getLong());
                    r.maxId = Math.max(r.maxId, id);
                }
                case OP_DROP_LAYER -> r.layers.remove(ops.getLong());
                case OP_PARENT -> {
                    long id = ops.getLong();
                    r.layers.put(id, ops.getLong());
                }
                case OP_SNAPSHOT -> {
                    String n = readName(ops);
                    r.snapshots.put(n, ops.getLong());
                }
                case OP_DROP_SNAPSHOT -> r.snapshots.remove(readName(ops));
                case OP_HEAD -> {
                    String n = readName(ops);
                    r.heads.put(n, ops.getLong());
                }
                case OP_DROP_HEAD -> r.heads.remove(readName(ops));
                default -> throw new IOException("catalog.log: unknown operation " + op);
            }
        }
    }

    private static String readName(ByteBuffer b) {
        byte[] u = new byte[b.getShort() & 0xffff];
        b.get(u);
        return new String(u, StandardCharsets.UTF_8);
    }
}
