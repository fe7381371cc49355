package dev.varve.engine;

import dev.varve.engine.btree.Extent;
import dev.varve.engine.btree.ExtentMap;
import dev.varve.engine.log.Log;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.zip.CRC32C;

/**
 * Reading through an extent map: shared by volume heads and snapshot views. The map is
 * consulted under a read lock that is never held across I/O, so readers do not wait for
 * writers' data or for commits.
 */
abstract sealed class MappedDevice implements BlockDevice permits Volume, SnapshotDevice {
    /** The longest single read of contiguous runs. */
    private static final long MAX_READ_BYTES = 4L << 20;
    private static final ThreadLocal<ByteBuffer> SCRATCH = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(256 * 1024));

    final Store store;
    final int blockSize;
    final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    ExtentMap map;

    MappedDevice(Store store, int blockSize, ExtentMap map) {
        this.store = store;
        this.blockSize = blockSize;
        this.map = map;
    }

    @Override
    public int blockSize() {
        return blockSize;
    }

    abstract void checkUsable() throws IOException;

    void checkRange(long offset, long length) throws IOException {
        long size = size();
        if (offset < 0 || length < 0 || offset > size || length > size - offset) {
            throw new IllegalArgumentException("range [" + offset + ", " + (offset + length) + ") is outside "
                    + name() + ", whose size is " + size + " bytes; nothing was done");
        }
    }

    /** One piece of a mapped range: a hole, or blocks of an extent. */
    private record Run(long lba, long count, Extent extent, int skip) {
    }

    private List<Run> runs(long lba, long count) throws IOException {
        List<Run> out = new ArrayList<>();
        lock.readLock().lock();
        try {
            map.map(lba, count, (l, c, e, s) -> out.add(new Run(l, c, e, s)));
        } finally {
            lock.readLock().unlock();
        }
        return out;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        // held across the data reads: the collector deletes no segment file while a read that
        // may still use an address in it is under way
        store.reclaimLock().readLock().lock();
        try {
            readLocked(offset, dst, null);
        } finally {
            store.reclaimLock().readLock().unlock();
        }
    }

    /**
     * Reads whole blocks and reports each block's CRC32C as verified (a hole's block reports
     * the CRC of zeros), so a caller that checksums the data again can chain these instead of
     * reading it twice. {@code offset} and {@code dst.remaining()} are whole blocks, and
     * {@code crcs} holds at least one slot per block.
     */
    void readBlocks(long offset, ByteBuffer dst, int[] crcs) throws IOException {
        if (offset % blockSize != 0 || dst.remaining() % blockSize != 0 || crcs.length < dst.remaining() / blockSize) {
            throw new IllegalArgumentException("readBlocks takes whole blocks of " + blockSize + " bytes and a CRC slot"
                    + " for each: offset " + offset + ", " + dst.remaining() + " bytes, " + crcs.length + " slots");
        }
        store.reclaimLock().readLock().lock();
        try {
            readLocked(offset, dst, crcs);
        } finally {
            store.reclaimLock().readLock().unlock();
        }
    }

    private int zeroCrc;

    private int zeroBlockCrc() {
        if (zeroCrc == 0) {
            CRC32C c = new CRC32C();
            c.update(new byte[blockSize]);
            zeroCrc = (int) c.getValue();
        }
        return zeroCrc;
    }

    private void readLocked(long offset, ByteBuffer dst, int[] crcs) throws IOException {
        checkUsable();
        int len = dst.remaining();
        checkRange(offset, len);
        if (len == 0) {
            return;
        }
        long first = offset / blockSize;
        long end = (offset + len + blockSize - 1) / blockSize;
        int base = dst.position();
        Log log = store.log();
        CRC32C crc = new CRC32C();
        boolean direct = dst.isDirect();
        List<Run> runs = runs(first, end - first);
        int i = 0;
        while (i < runs.size()) {
            Run r = runs.get(i);
            if (r.extent == null) {
                long from = Math.max(r.lba * blockSize, offset);
                long to = Math.min((r.lba + r.count) * blockSize, offset + len);
                zero(dst, base + (int) (from - offset), (int) (to - from));
                if (crcs != null) {
                    java.util.Arrays.fill(crcs, (int) (r.lba - first), (int) (r.lba - first + r.count), zeroBlockCrc());
                }
                i++;
                continue;
            }
            // runs that follow each other in the log too (a volume written sequentially) are
            // read with one positional read, up to 4 MiB
            long at = r.extent.address + (long) r.skip * blockSize;
            long bytes = r.count * blockSize;
            int j = i + 1;
            while (j < runs.size() && runs.get(j).extent != null && bytes < MAX_READ_BYTES) {
                Run n = runs.get(j);
                long nAt = n.extent.address + (long) n.skip * blockSize;
                if (nAt != at + bytes || LogAddress.segment(nAt) != LogAddress.segment(at)
                        || bytes + n.count * blockSize > MAX_READ_BYTES) {
                    break;
                }
                bytes += n.count * blockSize;
                j++;
            }
            long groupStart = r.lba * blockSize;
            long groupEnd = groupStart + bytes;
            if (direct && groupStart >= offset && groupEnd <= offset + len) {
                // the whole group lands in the caller's buffer: read it there and check it in
                // place, with no copy through scratch (on a checksum failure the read throws
                // and the buffer's contents mean nothing)
                ByteBuffer d = dst.duplicate();
                d.limit(base + (int) (groupEnd - offset)).position(base + (int) (groupStart - offset));
                int p0 = d.position();
                log.readData(at, d);
                int within = 0;
                for (int k = i; k < j; k++) {
                    Run q = runs.get(k);
                    for (int b = 0; b < q.count; b++) {
                        int p = p0 + within + b * blockSize;
                        verify(crc, dst, p, q, b, log);
                        if (crcs != null) {
                            crcs[(int) (q.lba + b - first)] = q.extent.crc(q.skip + b);
                        }
                    }
                    within += (int) (q.count * blockSize);
                }
                i = j;
                continue;
            }
            ByteBuffer scratch = scratch((int) bytes);
            log.readData(at, scratch);
            int within = 0;
            for (int k = i; k < j; k++) {
                Run q = runs.get(k);
                for (int b = 0; b < q.count; b++) {
                    verify(crc, scratch, within + b * blockSize, q, b, log);
                    if (crcs != null) {
                        crcs[(int) (q.lba + b - first)] = q.extent.crc(q.skip + b);
                    }
                }
                long runStart = q.lba * blockSize;
                long from = Math.max(runStart, offset);
                long to = Math.min((q.lba + q.count) * blockSize, offset + len);
                ByteBuffer src = scratch.duplicate();
                src.position(within + (int) (from - runStart)).limit(within + (int) (to - runStart));
                ByteBuffer d = dst.duplicate();
                d.position(base + (int) (from - offset));
                d.put(src);
                within += (int) (q.count * blockSize);
            }
            i = j;
        }
        dst.position(base + len);
    }

    /** Checks block {@code b} of run {@code q}, held in {@code buf} at {@code p}, against its checksum. */
    private void verify(CRC32C crc, ByteBuffer buf, int p, Run q, int b, Log log) throws CorruptionException {
        crc.reset();
        ByteBuffer blk = buf.duplicate();
        blk.limit(p + blockSize).position(p);
        crc.update(blk);
        int want = q.extent.crc(q.skip + b);
        if ((int) crc.getValue() != want) {
            long addr = q.extent.address + (long) (q.skip + b) * blockSize;
            throw store.corrupted(new CorruptionException(
                    log.segment(LogAddress.segment(addr)).file.path(), addr,
                    "data block " + (q.lba + b) + " of " + name() + " fails its checksum (expected "
                            + Integer.toHexString(want) + ", found " + Integer.toHexString((int) crc.getValue())
                            + ")"));
        }
    }

    private static void zero(ByteBuffer dst, int at, int n) {
        ByteBuffer d = dst.duplicate();
        d.position(at);
        while (n >= 8) {
            d.putLong(0L);
            n -= 8;
        }
        while (n-- > 0) {
            d.put((byte) 0);
        }
    }

    static ByteBuffer scratch(int bytes) {
        ByteBuffer b = SCRATCH.get();
        if (b.capacity() < bytes) {
            b = ByteBuffer.allocateDirect(Math.max(bytes, b.capacity() * 2));
            SCRATCH.set(b);
        }
        b.clear().limit(bytes);
        return b;
    }

    @Override
    public void mapAllocation(long offset, long length, AllocationVisitor visitor) throws IOException {
        store.reclaimLock().readLock().lock();
        try {
            mapAllocationLocked(offset, length, visitor);
        } finally {
            store.reclaimLock().readLock().unlock();
        }
    }

    private void mapAllocationLocked(long offset, long length, AllocationVisitor visitor) throws IOException {
        checkUsable();
        checkRange(offset, length);
        if (length == 0) {
            return;
        }
        long first = offset / blockSize;
        long end = (offset + length + blockSize - 1) / blockSize;
        long runFrom = -1;
        long runTo = -1;
        boolean runAlloc = false;
        for (Run r : runs(first, end - first)) {
            long from = Math.max(r.lba * blockSize, offset);
            long to = Math.min((r.lba + r.count) * blockSize, offset + length);
            boolean alloc = r.extent != null;
            if (runFrom >= 0 && alloc == runAlloc && from == runTo) {
                runTo = to;
            } else {
                if (runFrom >= 0) {
                    visitor.run(runFrom, runTo - runFrom, runAlloc);
                }
                runFrom = from;
                runTo = to;
                runAlloc = alloc;
            }
        }
        if (runFrom >= 0) {
            visitor.run(runFrom, runTo - runFrom, runAlloc);
        }
    }

    /** Blocks mapped to data (not holes); walks the whole map. */
    public long allocatedBlocks() throws IOException {
        long[] n = {0};
        checkUsable();
        store.reclaimLock().readLock().lock();
        lock.readLock().lock();
        try {
            map.tree().scan(Long.MIN_VALUE, (k, e) -> {
                n[0] += e.blocks;
                return true;
            });
        } finally {
            lock.readLock().unlock();
            store.reclaimLock().readLock().unlock();
        }
        return n[0];
    }
}
