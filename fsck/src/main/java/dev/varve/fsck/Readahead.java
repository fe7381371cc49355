package dev.varve.fsck;

import dev.varve.engine.format.SegmentLayout;
import dev.varve.engine.io.Storage;
import dev.varve.engine.log.Segment;
import java.io.Closeable;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the data segments front to back on a thread of its own while the log scan and the
 * tree walk run, so that the page cache holds them when the data check starts (as e2fsck's
 * readahead does). The data check can only start once the walk has listed every extent, and
 * until then the disk would sit idle. It reads in segment id order, the order the data check
 * reads in (addresses sort by segment), in large reads that the kernel sends to /dev/null: only
 * the cache they leave behind counts. It reads the files by their paths, so only a check of a
 * directory ({@link Fsck#check(java.nio.file.Path, boolean, Fsck.Listener)}) uses it.
 *
 * <p>Bounded so that it never thrashes: it stops when the data check starts reading (which
 * then reads ahead of it anyway, with the kernel's readahead), and it reads at most
 * {@link #MAX_BYTES}, and at most an eighth of the memory, so a store larger than the cache is
 * not read twice from disk. Only a full check uses it, and not a check through another storage
 * (crash images in memory, a storage that fails the n-th operation): that reads each byte once,
 * on the checking thread, through the storage.
 */
final class Readahead implements Closeable {
    static final long MAX_BYTES = 1L << 30;
    private static final int READ_BYTES = 8 << 20;

    static final Readahead NONE = new Readahead(null, List.of(), 0);

    private final Thread thread;
    private volatile boolean stopped;

    private Readahead(Storage storage, List<String> names, long limit) {
        if (names.isEmpty()) {
            thread = null;
        } else {
            thread = new Thread(() -> read(storage, names, limit), "varve-fsck-readahead");
            thread.setDaemon(true);
        }
    }

    /** Starts reading the data segments among {@code segments}; {@link #close} stops it. */
    static Readahead start(Storage storage, List<Segment> segments) {
        List<String> names = new ArrayList<>();
        for (Segment s : segments) {
            if (s.kind == SegmentLayout.KIND_DATA) {
                names.add(SegmentLayout.fileName(s.id));
            }
        }
        if (names.isEmpty()) {
            return NONE;
        }
        Readahead r = new Readahead(storage, names, Math.min(MAX_BYTES, memoryBytes() / 8));
        r.thread.start();
        return r;
    }

    private void read(Storage storage, List<String> names, long limit) {
        long left = limit;
        // sendfile(2) into /dev/null: the kernel fills the page cache (with its own readahead)
        // and copies nothing to this process, so the thread costs almost no CPU beside the
        // scan and the walk on a machine of few cores; reads into a buffer here, starved of a
        // core by those threads, got through 0-98 MB of a 256 MB store before the data check
        // started, where this gets through 56-242 MB
        try (FileChannel sink = FileChannel.open(Path.of("/dev/null"), StandardOpenOption.WRITE)) {
            for (String name : names) {
                try (FileChannel f = FileChannel.open(storage.path(name), StandardOpenOption.READ)) {
                    long size = f.size();
                    for (long p = 0; p < size && left > 0; ) {
                        if (stopped) {
                            return;
                        }
                        long n = f.transferTo(p, Math.min(READ_BYTES, left), sink);
                        if (n <= 0) {
                            break;
                        }
                        p += n;
                        left -= n;
                    }
                }
                if (left <= 0) {
                    return;
                }
            }
        } catch (IOException | RuntimeException e) {
            // ignored: this only warms the cache, and where there is no /dev/null it does
            // nothing; the data check reads the same bytes itself and reports a file that is
            // missing or short, or a storage that fails to read (check-aborted)
        }
    }

    /** Stops the reading and waits for the thread to end; idempotent. */
    void stop() {
        stopped = true;
        if (thread != null) {
            Fsck.joinUninterruptibly(thread);
        }
    }

    @Override
    public void close() {
        stop();
    }

    /** The machine's memory, or 8 GiB when the JVM does not say. */
    private static long memoryBytes() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            long m = os.getTotalMemorySize();
            if (m > 0) {
                return m;
            }
        }
        return 8L << 30;
    }
}
