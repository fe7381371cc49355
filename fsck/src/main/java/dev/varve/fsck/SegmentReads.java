package dev.varve.fsck;

import com.sun.nio.file.ExtendedOpenOption;
import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.io.Storage;
import dev.varve.engine.log.Segment;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The data segment files of a check of a store directory, opened for the data scan
 * ({@link DataScan}) and for the data check's runs, with threads that read the next pieces while
 * the check uses one ({@link Ahead}). Reads are aligned to the file system's block size
 * ({@link #alignment}) from the block boundary at or before a run's start, into buffers aligned to
 * it, so that the files can be opened for direct I/O ({@code O_DIRECT}) as well as through the page
 * cache. {@code -Dvarve.fsck.scan} chooses:
 * <ul>
 *   <li>{@code cached} (the default): through the page cache, with the kernel's readahead.
 *   <li>{@code direct}: with direct I/O, as xfs_repair reads a disk; a check then leaves the page
 *       cache as it found it, where a cached check of a store larger than memory pushes out what
 *       the VMs beside it have cached. A file system that refuses it (tmpfs) is read cached.
 *   <li>{@code off}: no scan; the data check reads its runs after the walk through the storage,
 *       the page cache filled meanwhile by {@link Readahead} (the way of checks before the scan).
 * </ul>
 * On the benchmark's VM a cached read runs at 1.1–4.7 GB/s depending on whether the host still
 * backs the free memory the page cache is filled into (free page reporting), a direct read at
 * 1.4–3.8 GB/s; in turns, the cached scan checked at 1.7–2.7 GB/s and the direct one at 1.7 GB/s
 * (docs/BENCHMARKS.md, "fsck"). Every mode finds the same problems ({@code SegmentReadsTest}).
 */
final class SegmentReads implements Closeable {
    /** How a check of a directory reads its data: {@code cached}, {@code direct} or {@code off} (see above). */
    static String mode() {
        String m = System.getProperty("varve.fsck.scan", "cached");
        if (!m.equals("cached") && !m.equals("direct") && !m.equals("off")) {
            throw new IllegalArgumentException("the system property varve.fsck.scan is '" + m
                    + "': use cached (the default), direct or off");
        }
        return m;
    }

    /**
     * A size in bytes a system property sets, or {@code otherwise} when it is unset.
     *
     * @throws IllegalArgumentException when it is not a whole number of bytes, 0 or more
     */
    static long bytesProperty(String name, long otherwise) {
        String v = System.getProperty(name);
        if (v == null) {
            return otherwise;
        }
        try {
            long n = Long.parseLong(v.trim());
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw new IllegalArgumentException("the system property " + name + " is '" + v
                + "': give a number of bytes, 0 or more (or leave it unset)");
    }

    /** Read buffers kept between checks in one process: fresh memory costs a page fault per 4 KiB. */
    private static final List<ByteBuffer> SPARE = new java.util.ArrayList<>(); // guarded by itself
    /** Pieces the reading thread may have read ahead of the check. */
    static final int AHEAD_BUFFERS = 4;
    private static final int SPARE_BUFFERS = 2 * (AHEAD_BUFFERS + 1);

    private final Storage storage;
    final int alignment;
    /** Opened with O_DIRECT, or through the page cache (reads are aligned the same either way). */
    final boolean directIo;
    private final Map<Long, FileChannel> open = new HashMap<>();

    private SegmentReads(Storage storage, int alignment, boolean directIo) {
        this.storage = storage;
        this.alignment = alignment;
        this.directIo = directIo;
    }

    /**
     * Reads of the data segments among {@code segments}, with direct I/O if {@code directIo} and the
     * file system takes it, else through the page cache; null when there is no data segment or
     * the first cannot be opened.
     */
    static SegmentReads open(Storage storage, List<Segment> segments, boolean directIo) {
        for (Segment s : segments) {
            if (s.kind == SegmentLayout.KIND_DATA) {
                SegmentReads r = directIo ? open(storage, s.id, true) : null;
                return r != null ? r : open(storage, s.id, false);
            }
        }
        return null;
    }

    /** Reads of data segments, or null when {@code segment}'s file cannot be opened so. */
    static SegmentReads open(Storage storage, long segment, boolean directIo) {
        try {
            Path p = storage.path(SegmentLayout.fileName(segment));
            long block = Files.getFileStore(p).getBlockSize();
            if (block <= 0 || block > (1 << 16) || Long.bitCount(block) != 1) {
                return null;
            }
            SegmentReads d = new SegmentReads(storage, (int) block, directIo);
            if (d.channel(segment) == null) {
                return null;
            }
            return d;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** The segment's file opened for this check's reads, or null when it cannot be (read it through the storage). */
    FileChannel channel(long segment) {
        FileChannel ch = open.get(segment);
        if (ch == null && !open.containsKey(segment)) {
            try {
                Path p = storage.path(SegmentLayout.fileName(segment));
                ch = directIo ? FileChannel.open(p, StandardOpenOption.READ, ExtendedOpenOption.DIRECT)
                        : FileChannel.open(p, StandardOpenOption.READ);
            } catch (IOException | RuntimeException e) {
                ch = null; // missing, or no direct I/O here: the storage's read reports or reads it
            }
            open.put(segment, ch);
        }
        return ch;
    }

    /**
     * Reads from {@code position} (a multiple of {@link #alignment}) into {@code dst}, whose
     * position, remaining and address are multiples of it, until it is full or the file ends.
     */
    int read(FileChannel ch, ByteBuffer dst, long position) throws IOException {
        int total = 0;
        while (dst.hasRemaining()) {
            int n = ch.read(dst, position + total);
            if (n < 0) {
                break;
            }
            total += n;
            if (n % alignment != 0) {
                break; // the file ends inside this block: the next read would be misaligned
            }
        }
        return total;
    }

    /** A buffer of at least {@code bytes} (a multiple of {@link #alignment}), aligned for direct reads. */
    ByteBuffer buffer(int bytes) {
        synchronized (SPARE) {
            for (int i = 0; i < SPARE.size(); i++) {
                ByteBuffer b = SPARE.get(i);
                if (b.capacity() >= bytes && isAligned(b)) {
                    return SPARE.remove(i);
                }
            }
        }
        return ByteBuffer.allocateDirect(bytes + alignment).alignedSlice(alignment);
    }

    private boolean isAligned(ByteBuffer b) {
        return b.alignmentOffset(0, alignment) == 0 && b.capacity() % alignment == 0;
    }

    /** Gives a buffer from {@link #buffer} back for the next check. */
    static void keep(ByteBuffer b) {
        if (b != null && b.isDirect() && b.capacity() <= 2 * LogScan.WINDOW_BYTES) {
            synchronized (SPARE) {
                if (SPARE.size() < SPARE_BUFFERS) {
                    SPARE.add(b);
                }
            }
        }
    }

    @Override
    public void close() {
        for (FileChannel ch : open.values()) {
            if (ch != null) {
                try {
                    ch.close();
                } catch (IOException e) {
                    // read-only: nothing is lost
                }
            }
        }
        open.clear();
    }

    /** A run of a data segment the check will read front to back: file offsets {@code [from, to)}. */
    record Run(long segment, long from, long to) {
    }

    /** A piece of a run read ahead: the file's bytes {@code [position, position + bytes)} are in {@code buffer}. */
    static final class Piece {
        final long segment;
        final long position;
        final int wanted;
        final ByteBuffer buffer;
        /** Its place in the order of the runs, and the run it is of. */
        final long sequence;
        final int run;
        int bytes;

        Piece(long segment, long position, int wanted, ByteBuffer buffer, long sequence, int run) {
            this.segment = segment;
            this.position = position;
            this.wanted = wanted;
            this.buffer = buffer;
            this.sequence = sequence;
            this.run = run;
        }

        long end() {
            return position + bytes;
        }

        boolean holds(long segment, long offset, int length) {
            return this.segment == segment && position <= offset && offset + length <= end();
        }

        /** Before {@code offset} of {@code segment} in address order: of no more use to a check reading on from there. */
        boolean before(long segment, long offset) {
            return this.segment < segment || (this.segment == segment && end() <= offset);
        }
    }

    /**
     * Starts reading {@code runs} (in address order, each from the block boundary at or before
     * its start) on threads of their own, in pieces of up to {@link LogScan#WINDOW_BYTES}, at
     * most {@link #AHEAD_BUFFERS} ahead of the check: the disk reads the next pieces while the
     * check verifies this one, as the kernel's readahead would for a buffered read.
     */
    Ahead ahead(List<Run> runs) {
        Ahead a = new Ahead(runs);
        for (Thread t : a.threads) {
            t.start();
        }
        return a;
    }

    /**
     * The reading threads of one batch, and the pieces they have read, handed out in the order of
     * the runs; {@link #close} stops them. {@link #READERS} threads read at once, each a piece at
     * a time: one alone left the disk idle from each read's end until its thread was scheduled
     * again, which on two cores busy with the walk and the checksums held a check's reads to
     * 1.0-1.3 GB/s where the same reads alone ran at 1.6-2.7.
     */
    final class Ahead implements Closeable {
        /** Threads reading at once. */
        static final int READERS = 2;

        private final Object lock = new Object();
        /** Pieces read and not yet handed out: sequence number s in slot s mod length. Guarded by lock. */
        private final Piece[] ring = new Piece[AHEAD_BUFFERS];
        private final java.util.concurrent.BlockingQueue<ByteBuffer> free =
                new java.util.concurrent.ArrayBlockingQueue<>(AHEAD_BUFFERS);
        private final List<Run> runs;
        private final Thread[] threads = new Thread[READERS];
        private volatile boolean stopped;
        private volatile Exception failure;
        // where the next piece to read lies, guarded by lock
        private int run = -1;
        private FileChannel channel;
        private long position;
        private long end;
        private long claimed;
        /** How many pieces there are, once every one has been claimed; else -1. Guarded by lock. */
        private long total = -1;
        private int readersLeft = READERS;
        // the check's side
        private long handedOut;
        /** The piece the check reads from, held until it asks for one further on. */
        private Piece current;
        private Piece head;
        private boolean ended;

        private Ahead(List<Run> runs) {
            this.runs = runs;
            for (int i = 0; i < AHEAD_BUFFERS; i++) {
                free.add(buffer(LogScan.WINDOW_BYTES));
            }
            for (int i = 0; i < READERS; i++) {
                threads[i] = new Thread(this::readAll, "varve-fsck-read-" + i);
                threads[i].setDaemon(true);
            }
        }

        private void readAll() {
            try {
                while (true) {
                    // a buffer first, then a piece: every piece claimed holds a buffer, so the
                    // piece the check waits for is always being read
                    ByteBuffer b = free.take();
                    Piece piece;
                    FileChannel ch;
                    synchronized (lock) {
                        piece = stopped ? null : claim(b);
                        ch = channel;
                    }
                    if (piece == null) {
                        free.offer(b);
                        return;
                    }
                    b.clear().limit(piece.wanted);
                    piece.bytes = read(ch, b, piece.position);
                    synchronized (lock) {
                        if (piece.bytes < piece.wanted && piece.run == run) {
                            position = end; // the file ends here: the check finds and reports where
                        }
                        ring[(int) (piece.sequence % ring.length)] = piece;
                        lock.notifyAll();
                    }
                }
            } catch (IOException | RuntimeException e) {
                failure = e;
                stopped = true;
            } catch (InterruptedException e) {
                failure = new java.io.InterruptedIOException("interrupted while the data was read");
                stopped = true;
            } finally {
                synchronized (lock) {
                    readersLeft--;
                    lock.notifyAll();
                }
            }
        }

        /** The next piece to read, into {@code b}, or null after the last. Holds lock. */
        private Piece claim(ByteBuffer b) {
            while (channel == null || position >= end) {
                if (++run >= runs.size()) {
                    total = claimed;
                    return null;
                }
                Run r = runs.get(run);
                channel = channel(r.segment);
                position = r.from - Math.floorMod(r.from, alignment);
                end = r.to;
            }
            int unit = Math.max(alignment, DataScan.SECTOR);
            int want = (int) Math.min(Math.min(b.capacity(), LogScan.WINDOW_BYTES) / unit * unit,
                    (end - position + alignment - 1) / alignment * alignment);
            Piece p = new Piece(runs.get(run).segment, position, want, b, claimed++, run);
            position += want;
            return p;
        }

        /**
         * The piece read ahead that holds {@code length} bytes at {@code offset} of {@code segment},
         * or null when none does (the check then reads them itself): every piece before it is
         * let go, and the one returned stays the check's until the next call. Rethrows a read's
         * failure.
         */
        Piece take(long segment, long offset, int length) throws IOException {
            if (current != null && current.holds(segment, offset, length)) {
                return current;
            }
            while (fill()) {
                if (head.holds(segment, offset, length)) {
                    release(current);
                    current = head;
                    head = null;
                    return current;
                }
                if (!head.before(segment, offset)) {
                    return null; // further on (or the block straddles two pieces)
                }
                release(head);
                head = null;
            }
            return null;
        }

        /**
         * The next piece read, in the order of the runs, or null after the last; the one before it
         * is let go. Rethrows a read's failure.
         */
        Piece next() throws IOException {
            fill();
            release(current);
            current = head;
            head = null;
            return current;
        }

        /** Makes {@link #head} the next piece read, waiting for it; false after the last. Rethrows a read's failure. */
        private boolean fill() throws IOException {
            if (head != null) {
                return true;
            }
            if (ended) {
                return false;
            }
            synchronized (lock) {
                while (true) {
                    int slot = (int) (handedOut % ring.length);
                    Piece p = ring[slot];
                    if (p != null && p.sequence == handedOut) {
                        ring[slot] = null;
                        handedOut++;
                        head = p;
                        return true;
                    }
                    if (failure != null || (total >= 0 && handedOut >= total) || readersLeft == 0) {
                        break;
                    }
                    try {
                        lock.wait();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new java.io.InterruptedIOException("interrupted while the data was read");
                    }
                }
            }
            ended = true;
            if (failure instanceof IOException io) {
                throw io;
            }
            if (failure instanceof RuntimeException re) {
                throw re;
            }
            return false;
        }

        private void release(Piece p) {
            if (p != null) {
                free.offer(p.buffer);
            }
        }

        private void releaseRing() {
            synchronized (lock) {
                for (int i = 0; i < ring.length; i++) {
                    release(ring[i]);
                    ring[i] = null;
                }
            }
        }

        /** Stops the reading threads, waits for them, and keeps their buffers for the next check. */
        @Override
        public void close() {
            // not an interrupt, which would close the file channels under a thread: giving the
            // buffers back wakes one that waits for a buffer, and it then sees the stop
            stopped = true;
            release(current);
            release(head);
            current = null;
            head = null;
            releaseRing();
            for (Thread t : threads) {
                Fsck.joinUninterruptibly(t);
            }
            releaseRing();
            for (ByteBuffer b; (b = free.poll()) != null; ) {
                keep(b);
            }
        }
    }
}
