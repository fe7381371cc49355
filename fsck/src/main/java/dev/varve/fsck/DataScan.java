package dev.varve.fsck;

import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.log.Segment;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * Reads every data segment front to back ({@link SegmentReads}: through the page cache, or with
 * direct I/O), while the log is scanned and the
 * trees walked, and keeps the CRC32C of each 4 KiB ({@link #SECTOR}) of each: 4 bytes for
 * every 4 KiB read, 0.1% of the data. When the walk has listed the extents, a block that starts
 * on a 4 KiB boundary and is a multiple of 4 KiB long is checked from those CRCs
 * ({@link Crc32cCombine}) and not read again.
 *
 * <p>The data check could only start reading once the walk had listed every extent, so the
 * disk sat idle during the walk, and the check took the walk's time plus the read's. Now the
 * walk runs while the disk reads, as a sequential read of the files would, and what is left
 * after it is the CRC arithmetic. It reads the dead blocks between live ones too, as the
 * sequential read does; a segment the collector has not cleaned costs its whole size.
 *
 * <p>It keeps to a budget ({@link #budget}: the CRCs of at most an eighth of the heap); a store
 * with more data than that is checked by reading its extents' runs after the walk, as without
 * it. A file that cannot be read (missing, unusable) is left to the data check, which reports
 * it; a read that fails stops the check ({@code check-aborted}).
 */
final class DataScan implements Closeable {
    static final int SECTOR = 4096;
    private static final int OPERATOR = Crc32cCombine.operator(SECTOR);

    /** The CRC32C of each 4 KiB of a segment's file, as far as it was read. */
    static final class Sectors {
        final int[] crcs;
        /** Bytes read: the file ends here, unless it changed while it was read. */
        long size;

        Sectors(int count) {
            crcs = new int[count];
        }

        /** Whether a block of {@code length} bytes at {@code offset} can be checked from these CRCs. */
        static boolean fits(long offset, int length) {
            return offset % SECTOR == 0 && length % SECTOR == 0 && length > 0;
        }

        /** The CRC32C of the {@code length} bytes at {@code offset}, which must {@link #fits fit} and lie before {@link #size}. */
        int crc(long offset, int length) {
            int i = (int) (offset / SECTOR);
            int c = crcs[i];
            for (int n = length / SECTOR; --n > 0; ) {
                c = Crc32cCombine.combine(c, crcs[++i], OPERATOR);
            }
            return c;
        }
    }

    private final SegmentReads direct;
    private final List<SegmentReads.Run> runs;
    /** Told of the bytes read as they are read: the data check adds none for blocks checked from here. */
    private final Meter meter;
    private final Map<Long, Sectors> sectors = new HashMap<>();
    private final Thread thread;
    private volatile boolean stopped;
    private volatile Exception failure;
    private boolean joined;

    private DataScan(SegmentReads direct, List<SegmentReads.Run> runs, Meter meter) {
        this.direct = direct;
        this.runs = runs;
        this.meter = meter;
        thread = new Thread(this::readAll, "varve-fsck-data-scan");
        thread.setDaemon(true);
    }

    /**
     * Starts reading the data segments among {@code segments}; null when there is none, or their
     * CRCs would not fit the {@link #budget}.
     */
    static DataScan start(SegmentReads direct, List<Segment> segments, Meter meter) {
        List<SegmentReads.Run> runs = new ArrayList<>();
        long bytes = 0;
        for (Segment s : segments) {
            if (s.kind != SegmentLayout.KIND_DATA) {
                continue;
            }
            FileChannel ch = direct.channel(s.id);
            if (ch == null) {
                continue;
            }
            long size;
            try {
                size = ch.size();
            } catch (IOException e) {
                continue; // the data check reads it through the storage, and reports what fails
            }
            runs.add(new SegmentReads.Run(s.id, 0, size));
            bytes += size;
        }
        if (runs.isEmpty() || (bytes + SECTOR - 1) / SECTOR * 4 > budget()) {
            return null;
        }
        DataScan d = new DataScan(direct, runs, meter);
        d.thread.start();
        return d;
    }

    /**
     * Memory the CRCs may take: an eighth of the heap, at most 1 GiB (for 1 TiB of data);
     * {@code -Dvarve.fsck.scanMemory=BYTES} sets it (0: read the extents' runs after the walk).
     */
    static long budget() {
        return SegmentReads.bytesProperty("varve.fsck.scanMemory",
                Math.min(1L << 30, Runtime.getRuntime().maxMemory() / 8));
    }

    private void readAll() {
        CRC32C crc = new CRC32C();
        try (SegmentReads.Ahead ahead = direct.ahead(runs)) {
            Sectors current = null;
            long segment = -1;
            boolean fileEnded = false;
            for (SegmentReads.Piece p; !stopped && (p = ahead.next()) != null; ) {
                if (p.segment != segment) {
                    segment = p.segment;
                    fileEnded = false;
                    current = new Sectors((int) ((runs.get(p.run).to() + SECTOR - 1) / SECTOR));
                    sectors.put(segment, current); // read by the check only after this thread ends
                }
                if (fileEnded) {
                    continue; // read past where a read found the file ends: nothing there
                }
                fileEnded = p.bytes < p.wanted;
                ByteBuffer b = p.buffer.duplicate();
                int i = (int) (p.position / SECTOR);
                for (int at = 0; at < p.bytes; at += SECTOR, i++) {
                    b.limit(Math.min(p.bytes, at + SECTOR)).position(at);
                    crc.reset();
                    crc.update(b);
                    current.crcs[i] = (int) crc.getValue();
                }
                current.size = p.end();
                meter.add(p.bytes);
            }
        } catch (IOException | RuntimeException e) {
            failure = e;
        }
    }

    /**
     * Waits for the reading to end, and returns the CRCs of {@code segment}'s file, or null when
     * it was not read (the data check then reads its blocks itself). Rethrows a read's failure.
     */
    Sectors sectors(long segment) throws IOException {
        if (!joined) {
            Fsck.joinUninterruptibly(thread);
            joined = true;
        }
        if (failure instanceof IOException io) {
            throw io;
        }
        if (failure instanceof RuntimeException re) {
            throw re;
        }
        return sectors.get(segment);
    }

    /** Stops the reading, and waits for its thread to end; idempotent. */
    @Override
    public void close() {
        stopped = true;
        Fsck.joinUninterruptibly(thread);
        joined = true;
    }
}
