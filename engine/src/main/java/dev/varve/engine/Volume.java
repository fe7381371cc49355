package dev.varve.engine;

import dev.varve.engine.btree.Extent;
import dev.varve.engine.btree.ExtentMap;
import dev.varve.engine.catalog.CatalogEntry;
import dev.varve.engine.log.Log;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * A writable volume head. Writes go to the data head of the log (block-aligned, one
 * positional write per run of up to {@link Extent#MAX_BLOCKS} blocks) and then into the
 * volume's extent map, copying the shared path to the root if a snapshot holds it. Unaligned
 * edges are read, merged and rewritten. Concurrent writes to overlapping ranges land in some
 * order, as on any disk: a read-modify-write of an edge block holds its block group
 * exclusively, so a concurrent write to another part of the same block is never lost, while
 * whole-block writes share the groups they touch and run in parallel.
 */
public final class Volume extends MappedDevice {
    final CatalogEntry entry;
    volatile boolean destroyed;
    /** Writes and trims not yet in an intent record or a commit; under {@code lock}'s write lock. */
    final IntentOps ops = new IntentOps();

    /** Block groups of {@link #GROUP_BLOCKS} blocks, striped over a fixed set of locks. */
    private static final int GROUP_BLOCKS = 64;
    private static final int STRIPES = 256;
    private final java.util.concurrent.locks.ReentrantReadWriteLock[] stripes =
            new java.util.concurrent.locks.ReentrantReadWriteLock[STRIPES];

    {
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new java.util.concurrent.locks.ReentrantReadWriteLock();
        }
    }

    /** The stripe locks for blocks [first, end), in ascending order (so never a deadlock). */
    private java.util.concurrent.locks.Lock[] groupLocks(long first, long end, boolean exclusive) {
        long g0 = first / GROUP_BLOCKS;
        long g1 = (end - 1) / GROUP_BLOCKS;
        java.util.BitSet used = new java.util.BitSet(STRIPES);
        for (long g = g0; g <= g1 && used.cardinality() < STRIPES; g++) {
            used.set((int) Math.floorMod(g, (long) STRIPES));
        }
        java.util.concurrent.locks.Lock[] locks = new java.util.concurrent.locks.Lock[used.cardinality()];
        int n = 0;
        for (int i = used.nextSetBit(0); i >= 0; i = used.nextSetBit(i + 1)) {
            locks[n++] = exclusive ? stripes[i].writeLock() : stripes[i].readLock();
        }
        return locks;
    }

    private static void lockAll(java.util.concurrent.locks.Lock[] locks) {
        for (java.util.concurrent.locks.Lock l : locks) {
            l.lock();
        }
    }

    private static void unlockAll(java.util.concurrent.locks.Lock[] locks) {
        for (int i = locks.length - 1; i >= 0; i--) {
            locks[i].unlock();
        }
    }

    Volume(Store store, CatalogEntry entry, ExtentMap map) {
        super(store, entry.blockSize, map);
        this.entry = entry;
    }

    @Override
    void checkUsable() throws IOException {
        store.checkOpen();
        if (destroyed) {
            throw new NoSuchVolumeException("volume '" + entry.name + "' was destroyed");
        }
    }

    @Override
    public String name() {
        return entry.name;
    }

    @Override
    public long size() {
        return entry.size;
    }

    @Override
    public boolean readOnly() {
        return store.readOnly();
    }

    long id() {
        return entry.id;
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        checkUsable();
        int len = src.remaining();
        checkRange(offset, len);
        if (len == 0) {
            return;
        }
        long first = offset / blockSize;
        long last = (offset + len + blockSize - 1) / blockSize;
        boolean aligned = offset % blockSize == 0 && len % blockSize == 0;
        store.admitWrite((last - first) * blockSize);
        java.util.concurrent.locks.Lock[] locks = groupLocks(first, last, !aligned);
        lockAll(locks);
        try {
            writeLocked(offset, src, len, first, aligned);
        } finally {
            unlockAll(locks);
        }
        src.position(src.limit());
        store.afterWrite();
    }

    private void writeLocked(long offset, ByteBuffer src, int len, long first, boolean aligned) throws IOException {
        ByteBuffer blocks;
        if (aligned) {
            blocks = src.slice();
        } else {
            long end = (offset + len + blockSize - 1) / blockSize;
            int total = (int) ((end - first) * blockSize);
            blocks = ByteBuffer.allocate(total);
            // read-modify-write of the partial first and last blocks
            ByteBuffer head = blocks.duplicate();
            head.limit(blockSize);
            read(first * blockSize, head);
            if (end - 1 != first) {
                ByteBuffer tail = blocks.duplicate();
                tail.position(total - blockSize);
                read((end - 1) * blockSize, tail);
            }
            ByteBuffer at = blocks.duplicate();
            at.position((int) (offset - first * blockSize));
            at.put(src.duplicate());
            blocks.clear();
        }
        writeBlocks(first, blocks);
    }

    private void writeBlocks(long firstLba, ByteBuffer blocks) throws IOException {
        Log log = store.log();
        int nBlocks = blocks.remaining() / blockSize;
        int align = Math.min(blockSize, 4096);
        CRC32C crc = new CRC32C();
        store.beginWrite();
        try {
            long gen = store.openGeneration();
            int done = 0;
            while (done < nBlocks) {
                int n = Math.min(Extent.MAX_BLOCKS, nBlocks - done);
                ByteBuffer chunk = blocks.duplicate();
                chunk.position(blocks.position() + done * blockSize).limit(blocks.position() + (done + n) * blockSize);
                int[] crcs = new int[n];
                for (int i = 0; i < n; i++) {
                    ByteBuffer b = chunk.duplicate();
                    b.position(chunk.position() + i * blockSize).limit(chunk.position() + (i + 1) * blockSize);
                    crc.reset();
                    crc.update(b);
                    crcs[i] = (int) crc.getValue();
                }
                long addr;
                int stream = streamFor(firstLba + done);
                try {
                    addr = log.allocateData(n * blockSize, align, stream, false);
                    log.writeData(addr, chunk);
                } catch (IOException e) {
                    // nothing of this write is in the map yet when the first run fails
                    throw done == 0 ? store.firstWriteFailed(e) : store.writeFailed(e);
                }
                lock.writeLock().lock();
                try {
                    map.insert(firstLba + done, new Extent(n, addr, gen, crcs));
                    ops.write(firstLba + done, n, addr, crcs);
                } catch (IOException e) {
                    // an earlier run of this write is in the map already: the write is torn
                    throw done > 0 ? store.writeFailed(e) : e;
                } finally {
                    lock.writeLock().unlock();
                }
                store.wrote(this, addr, firstLba + done, n, (long) n * blockSize);
                done += n;
            }
        } finally {
            store.endWrite();
        }
    }

    /**
     * Which data stream a write at {@code lba} goes to, by how long the data it replaces lived
     * (the idea of SepBIT, Wang et al., FAST '22): data that replaces data users wrote a short
     * while ago is likely to be replaced again soon and goes to the HOT stream; a first write,
     * or one that replaces old data, goes to WARM. Segments then hold data that dies together,
     * and the collector finds them nearly empty. Age is the user data written since the
     * replaced block's birth (its generation; a compaction move keeps it).
     */
    private int streamFor(long lba) throws IOException {
        Extent replaced;
        lock.readLock().lock();
        try {
            replaced = map.extentAt(lba);
        } finally {
            lock.readLock().unlock();
        }
        return replaced != null && store.writtenRecently(replaced.birth) ? Log.HOT : Log.WARM;
    }

    /** Discards a range: whole blocks become holes; partial edge blocks are zeroed in place. */
    @Override
    public void trim(long offset, long length) throws IOException {
        checkUsable();
        checkRange(offset, length);
        if (length == 0) {
            return;
        }
        java.util.concurrent.locks.Lock[] locks = groupLocks(offset / blockSize,
                (offset + length + blockSize - 1) / blockSize, true);
        lockAll(locks);
        try {
            trimLocked(offset, length);
        } finally {
            unlockAll(locks);
        }
    }

    private void trimLocked(long offset, long length) throws IOException {
        long firstFull = (offset + blockSize - 1) / blockSize;
        long endFull = (offset + length) / blockSize;
        if (firstFull >= endFull) {
            write(offset, ByteBuffer.allocate((int) length));
            return;
        }
        // read both partial edge blocks before changing anything, so a failed read leaves the
        // volume as it was rather than half-trimmed
        long headBytes = firstFull * blockSize - offset;
        long tailBytes = offset + length - endFull * blockSize;
        ByteBuffer head = null;
        ByteBuffer tail = null;
        if (headBytes > 0) {
            head = ByteBuffer.allocate(blockSize);
            read((firstFull - 1) * blockSize, head);
            head.position((int) (blockSize - headBytes));
            while (head.hasRemaining()) {
                head.put((byte) 0);
            }
            head.flip();
        }
        if (tailBytes > 0) {
            tail = ByteBuffer.allocate(blockSize);
            read(endFull * blockSize, tail);
            tail.clear();
            for (int i = 0; i < tailBytes; i++) {
                tail.put(i, (byte) 0);
            }
        }
        boolean changed = false;
        try {
            if (head != null) {
                writeBlocks(firstFull - 1, head);
                changed = true;
            }
            if (tail != null) {
                writeBlocks(endFull, tail);
                changed = true;
            }
            store.beginWrite();
            try {
                lock.writeLock().lock();
                try {
                    map.punch(firstFull, endFull - firstFull);
                    ops.trim(firstFull, endFull - firstFull);
                    // a diff from a snapshot before this can no longer take holes as unchanged
                    entry.unmapGeneration = Math.max(entry.unmapGeneration, store.openGeneration());
                } finally {
                    lock.writeLock().unlock();
                }
                store.wrote(this, 0, firstFull, 0, 0);
                store.discarded((endFull - firstFull) * blockSize);
            } finally {
                store.endWrite();
            }
        } catch (IOException e) {
            // part of the trim is in the map already: refuse to commit a half-trimmed range
            throw changed ? store.writeFailed(e) : e;
        }
        store.afterWrite();
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        trim(offset, length);
    }

    @Override
    public void flush() throws IOException {
        checkUsable();
        store.flush();
    }

    /** Grows or shrinks the volume; shrinking discards what lies past the new end. */
    public void resize(long newSize) throws IOException {
        store.resizeVolume(entry.name, newSize);
    }

    @Override
    public String toString() {
        return "Volume[" + entry.name + ", " + entry.size + " bytes]";
    }
}
