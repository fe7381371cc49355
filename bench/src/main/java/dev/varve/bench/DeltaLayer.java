package dev.varve.bench;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;
import org.agrona.collections.Long2LongHashMap;

/**
 * One layer of a {@link FilePerDelta} disk: a data file of appended blocks and a map file
 * that journals its block table. The whole table is held in memory while the disk is open,
 * as VMDK grain tables, VHDX block allocation tables and qcow2 L2 tables are cached.
 *
 * <pre>
 * NNNNNNNN.delta (data)
 *  0        8         12          16        24                      blockSize
 *  +--------+---------+-----------+---------+-----------------------+------------------
 *  | MAGIC  | VERSION | BLOCKSIZE | LAYERID |       zero pad        | data blocks, each
 *  +--------+---------+-----------+---------+-----------------------+ blockSize, appended
 *
 * NNNNNNNN.map (table journal, appended once per flush)
 *  0        4        8                    8 + 16 * COUNT
 *  +--------+--------+--------------------+
 *  | COUNT  | CRC32C | (LBA, OFFSET) x N  |   CRC32C covers COUNT and the pairs; OFFSET 0
 *  +--------+--------+--------------------+   means "reads as zeros" (a trimmed block)
 * </pre>
 *
 * A block already present in the layer is overwritten in place (as qcow2 does for an
 * allocated cluster); a new one is appended. Durability follows Varve's rule: the data file
 * is forced before the table entries that point into it are written and forced.
 */
final class DeltaLayer implements Closeable {
    static final long MAGIC = 0x564152564544544cL; // "VARVEDTL"
    static final int VERSION = 1;
    static final int MAGIC_OFFSET = 0;
    static final int MAGIC_BYTES = 8;
    static final int VERSION_OFFSET = MAGIC_OFFSET + MAGIC_BYTES;
    static final int VERSION_BYTES = 4;
    static final int BLOCK_SIZE_OFFSET = VERSION_OFFSET + VERSION_BYTES;
    static final int BLOCK_SIZE_BYTES = 4;
    static final int LAYER_ID_OFFSET = BLOCK_SIZE_OFFSET + BLOCK_SIZE_BYTES;
    static final int LAYER_ID_BYTES = 8;
    static final int HEADER_BYTES = LAYER_ID_OFFSET + LAYER_ID_BYTES;

    static final int MAP_COUNT_OFFSET = 0;
    static final int MAP_COUNT_BYTES = 4;
    static final int MAP_CRC_OFFSET = MAP_COUNT_OFFSET + MAP_COUNT_BYTES;
    static final int MAP_CRC_BYTES = 4;
    static final int MAP_ENTRIES_OFFSET = MAP_CRC_OFFSET + MAP_CRC_BYTES;
    static final int MAP_ENTRY_BYTES = 16;

    /** Table value for "not in this layer": look further down the chain. */
    static final long ABSENT = -1;
    /** Table value for "reads as zeros here" (trimmed): stop looking. */
    static final long ZERO = 0;

    final long id;
    final int blockSize;
    final Path dataPath;
    final Path mapPath;
    final Long2LongHashMap table = new Long2LongHashMap(ABSENT);
    /** Parent layer id, -1 for a base. Owned by {@link FilePerDelta}. */
    long parent;
    /** Snapshot name when this layer is a snapshot's frozen content. */
    String snapshot;
    /** Head name when this layer is a head's writable top. */
    String head;

    private final FileChannel data;
    private FileChannel map;
    private long dataEnd;
    private long mapEnd;
    private boolean dataDirty;
    private long[] pending = new long[128];
    private int pendingPairs;
    private long[] dests = new long[64];

    private DeltaLayer(long id, int blockSize, Path dataPath, Path mapPath, FileChannel data, long parent) {
        this.id = id;
        this.blockSize = blockSize;
        this.dataPath = dataPath;
        this.mapPath = mapPath;
        this.data = data;
        this.parent = parent;
    }

    static String dataName(long id) {
        return String.format("%08d.delta", id);
    }

    static String mapName(long id) {
        return String.format("%08d.map", id);
    }

    /** Creates both files; the caller forces the directory before naming the layer in the catalog. */
    static DeltaLayer create(Path dir, long id, long parent, int blockSize) throws IOException {
        Path dp = dir.resolve(dataName(id));
        Path mp = dir.resolve(mapName(id));
        FileChannel d = FileChannel.open(dp, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            ByteBuffer h = ByteBuffer.allocate(blockSize).order(ByteOrder.LITTLE_ENDIAN);
            h.putLong(MAGIC_OFFSET, MAGIC).putInt(VERSION_OFFSET, VERSION).putInt(BLOCK_SIZE_OFFSET, blockSize)
                    .putLong(LAYER_ID_OFFSET, id);
            writeFully(d, h, 0);
            d.force(false);
            DeltaLayer l = new DeltaLayer(id, blockSize, dp, mp, d, parent);
            l.dataEnd = blockSize;
            l.map = FileChannel.open(mp, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE);
            return l;
        } catch (IOException | RuntimeException e) {
            d.close();
            throw e;
        }
    }

    /** Opens a layer and replays its table journal up to the first torn or damaged record. */
    static DeltaLayer open(Path dir, long id, long parent, int blockSize, boolean writable) throws IOException {
        Path dp = dir.resolve(dataName(id));
        Path mp = dir.resolve(mapName(id));
        FileChannel d = FileChannel.open(dp, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            readFully(d, h, 0);
            if (h.getLong(MAGIC_OFFSET) != MAGIC || h.getInt(BLOCK_SIZE_OFFSET) != blockSize
                    || h.getLong(LAYER_ID_OFFSET) != id) {
                throw new IOException(dp + ": not layer " + id + " of this disk (bad header)");
            }
            DeltaLayer l = new DeltaLayer(id, blockSize, dp, mp, d, parent);
            // unflushed blocks past the last table record are garbage: new blocks go after them
            l.dataEnd = Math.max(blockSize, (d.size() + blockSize - 1) / blockSize * blockSize);
            l.replayMap();
            if (writable) {
                l.openMap();
            }
            return l;
        } catch (IOException | RuntimeException e) {
            d.close();
            throw e;
        }
    }

    private void replayMap() throws IOException {
        try (FileChannel m = FileChannel.open(mapPath, StandardOpenOption.READ)) {
            long size = m.size();
            ByteBuffer all = ByteBuffer.allocate((int) Math.min(size, Integer.MAX_VALUE - 8)).order(ByteOrder.LITTLE_ENDIAN);
            readFully(m, all, 0);
            all.flip();
            CRC32C crc = new CRC32C();
            int pos = 0;
            while (all.limit() - pos >= MAP_ENTRIES_OFFSET) {
                int count = all.getInt(pos + MAP_COUNT_OFFSET);
                long bytes = MAP_ENTRIES_OFFSET + (long) count * MAP_ENTRY_BYTES;
                if (count < 0 || pos + bytes > all.limit()) {
                    break;
                }
                crc.reset();
                crc.update(all.duplicate().position(pos + MAP_COUNT_OFFSET).limit(pos + MAP_COUNT_BYTES));
                crc.update(all.duplicate().position(pos + MAP_ENTRIES_OFFSET).limit((int) (pos + bytes)));
                if ((int) crc.getValue() != all.getInt(pos + MAP_CRC_OFFSET)) {
                    break;
                }
                for (int i = 0; i < count; i++) {
                    int at = pos + MAP_ENTRIES_OFFSET + i * MAP_ENTRY_BYTES;
                    table.put(all.getLong(at), all.getLong(at + 8));
                }
                pos += (int) bytes;
            }
            mapEnd = pos;
        }
    }

    /** Makes the table journal appendable again (a top, or a layer being merged into). */
    void openMap() throws IOException {
        if (map == null) {
            map = FileChannel.open(mapPath, StandardOpenOption.READ, StandardOpenOption.WRITE);
            if (map.size() > mapEnd) {
                map.truncate(mapEnd); // a torn last record
            }
        }
    }

    /** A frozen layer keeps one open file, so ten thousand snapshots fit in the fd limit. */
    void closeMap() throws IOException {
        if (map != null) {
            map.close();
            map = null;
        }
    }

    long lookup(long lba) {
        return table.get(lba);
    }

    /** Reads {@code dst.remaining()} bytes of this layer's data at {@code offset}. */
    void readData(ByteBuffer dst, long offset) throws IOException {
        int want = dst.remaining();
        int n = readFully(data, dst, offset);
        if (n < want) {
            throw new IOException(dataPath + ": table points past the end of the file at " + offset);
        }
    }

    /**
     * Writes {@code n} blocks from {@code src} (which holds exactly {@code n * blockSize}
     * bytes) to the logical blocks {@code lbas[0..n)}: in place where this layer already holds
     * the block, appended otherwise; contiguous destinations go out as one positional write.
     */
    void writeBlocks(long[] lbas, int n, ByteBuffer src) throws IOException {
        if (dests.length < n) {
            dests = new long[Math.max(n, dests.length * 2)];
        }
        for (int k = 0; k < n; k++) {
            long off = table.get(lbas[k]);
            if (off == ABSENT || off == ZERO) {
                off = dataEnd;
                dataEnd += blockSize;
                put(lbas[k], off);
            }
            dests[k] = off;
        }
        int base = src.position();
        int i = 0;
        while (i < n) {
            int j = i + 1;
            while (j < n && dests[j] == dests[i] + (long) (j - i) * blockSize) {
                j++;
            }
            ByteBuffer run = src.duplicate();
            run.position(base + i * blockSize).limit(base + j * blockSize);
            writeFully(data, run, dests[i]);
            i = j;
        }
        dataDirty = true;
    }

    /** Records a table change, journalled at the next {@link #sync()}. */
    void put(long lba, long offset) {
        table.put(lba, offset);
        if (pendingPairs * 2 + 2 > pending.length) {
            long[] p = new long[pending.length * 2];
            System.arraycopy(pending, 0, p, 0, pendingPairs * 2);
            pending = p;
        }
        pending[pendingPairs * 2] = lba;
        pending[pendingPairs * 2 + 1] = offset;
        pendingPairs++;
    }

    boolean dirty() {
        return dataDirty || pendingPairs > 0;
    }

    /** Data first, then the table entries that point at it: the same order as a Varve commit. */
    void sync() throws IOException {
        if (dataDirty) {
            data.force(false);
            dataDirty = false;
        }
        if (pendingPairs == 0) {
            return;
        }
        boolean reopened = map == null;
        openMap();
        try {
            int bytes = MAP_ENTRIES_OFFSET + pendingPairs * MAP_ENTRY_BYTES;
            ByteBuffer rec = ByteBuffer.allocateDirect(bytes).order(ByteOrder.LITTLE_ENDIAN);
            rec.putInt(MAP_COUNT_OFFSET, pendingPairs);
            for (int i = 0; i < pendingPairs; i++) {
                rec.putLong(MAP_ENTRIES_OFFSET + i * MAP_ENTRY_BYTES, pending[i * 2]);
                rec.putLong(MAP_ENTRIES_OFFSET + i * MAP_ENTRY_BYTES + 8, pending[i * 2 + 1]);
            }
            CRC32C crc = new CRC32C();
            crc.update(rec.duplicate().position(MAP_COUNT_OFFSET).limit(MAP_COUNT_BYTES));
            crc.update(rec.duplicate().position(MAP_ENTRIES_OFFSET).limit(bytes));
            rec.putInt(MAP_CRC_OFFSET, (int) crc.getValue());
            writeFully(map, rec, mapEnd);
            // the one fsync that makes these table entries (and so the forced data) reachable
            map.force(false);
            mapEnd += bytes;
            pendingPairs = 0;
        } finally {
            if (reopened) {
                closeMap();
            }
        }
    }

    long dataBytes() {
        return dataEnd - blockSize;
    }

    @Override
    public void close() throws IOException {
        try {
            closeMap();
        } finally {
            data.close();
        }
    }

    /** Closes and removes both files (after the catalog stopped naming this layer). */
    void delete() throws IOException {
        close();
        Files.deleteIfExists(dataPath);
        Files.deleteIfExists(mapPath);
    }

    static int readFully(FileChannel ch, ByteBuffer dst, long position) throws IOException {
        int total = 0;
        while (dst.hasRemaining()) {
            int n = ch.read(dst, position + total);
            if (n < 0) {
                break;
            }
            total += n;
        }
        return total;
    }

    static void writeFully(FileChannel ch, ByteBuffer src, long position) throws IOException {
        long pos = position;
        while (src.hasRemaining()) {
            pos += ch.write(src, pos);
        }
    }
}
