package dev.varve.fsck;

import dev.varve.engine.io.FileStorage;
import dev.varve.engine.io.Storage;
import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * The offline checker, and its repair.
 *
 * <p>A check is read-only: on a directory it opens every file for reading only. It reports
 * every problem it finds, not just the first: both superblocks; every segment header; every
 * record of every meta segment (header, checksum, the order of generations); the chain of
 * commits and where recovery would end the log (and whether whole commits lie beyond that
 * end); the catalog (unique names, parents exist, no cycles); every tree reachable from the
 * current commit (key order, balance, no overlapping extents, extents inside the volume,
 * pointers landing on records of the right kind, length and generation); every data block's
 * checksum unless {@code fast}; every properties blob; the intent records opening replays after
 * the last commit (writes flushes made durable before a commit held them: each record decodes
 * and names volumes and blocks that exist, and unless {@code fast} every data block it names
 * matches its checksum), and damage among them that loses writes a flush acknowledged. Each
 * problem says which volumes and snapshots, and which byte ranges of them, it affects.
 *
 * <p>Besides damage it warns about nodes over the bounds this version writes ({@code tree-fill}),
 * and counts what no current tree reaches: old nodes and blobs, and apart from them the data
 * blocks nothing points at, per segment ({@code unreachable-records}). It recomputes each volume's
 * and snapshot's referenced bytes from its tree and, on a store without errors, compares them with
 * the engine's own accounting ({@link SpaceCheck}). A storage that fails to read stops the check:
 * {@code check-aborted}, exit 8.
 *
 * <p>A repair ({@link #repair}) goes back to the newest commit whose whole content verifies,
 * or with salvage keeps every volume and snapshot that verifies; see {@link Repair} and the
 * "Repair" section of docs/FORMAT.md.
 */
public final class Fsck {
    private Fsck() {
    }

    /** Told how far a check has got, in bytes read (meta segments scanned, data blocks verified). */
    public interface Listener {
        Listener NONE = bytes -> { };

        /** Once, before the reading starts: about how many bytes the check will read. */
        default void start(long totalBytes) {
        }

        /** Bytes read so far; never decreases. */
        void checked(long bytes);
    }

    public static Report check(Path dir) {
        return check(dir, false);
    }

    /** Checks a store that no process has open. Never throws for damage: it is reported. */
    public static Report check(Path dir, boolean fast) {
        return check(dir, fast, Listener.NONE);
    }

    /**
     * Checks a store directory. The engine's own space figures, which a clean check is compared
     * with, are computed on a second thread while the survey reads the store, so the
     * comparison costs no time of its own on a machine with a core to spare; they are used
     * only if the store checks clean, and the thread is always done before this returns. A full
     * check reads the data blocks with direct I/O where the file system allows it, a thread
     * reading the next pieces while the check verifies one ({@link SegmentReads}): the check does
     * not fill the page cache with blocks it reads once. Where it does not, it reads through the
     * page cache, filled on a third thread while the log is scanned and the trees walked
     * ({@link Readahead}). Neither changes a finding.
     *
     * @throws IllegalArgumentException when a system property that tunes the reading does not parse
     */
    public static Report check(Path dir, boolean fast, Listener listener) {
        checkSettings();
        Storage storage = FileStorage.readOnly(dir);
        java.util.concurrent.FutureTask<List<dev.varve.engine.SpaceInfo>> ahead =
                new java.util.concurrent.FutureTask<>(() -> SpaceCheck.ENGINE.space(storage));
        Thread t = new Thread(ahead, "varve-fsck-space");
        t.setDaemon(true);
        // a full check starts it once the meta segments are read (and cached): it then reads them
        // from memory, not beside the data scan's reads from the disk
        if (fast) {
            t.start();
        }
        try {
            return check(storage, fast, listener, fast ? () -> { } : t::start, x -> {
                ahead.run(); // here, if the survey ended before its thread was started; else a no-op
                try {
                    return ahead.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    if (e.getCause() instanceof IOException io) {
                        throw io;
                    }
                    if (e.getCause() instanceof RuntimeException re) {
                        throw re;
                    }
                    throw new IllegalStateException(e.getCause());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException("interrupted while the engine computed space");
                }
            });
        } finally {
            joinUninterruptibly(t);
        }
    }

    /**
     * Refuses, before anything is read, system properties that tune how a check reads and that do
     * not parse ({@code varve.fsck.scan}, {@code varve.fsck.scanMemory},
     * {@code varve.fsck.extentMemory}; ARCHITECTURE.md, "How fsck reads").
     *
     * @throws IllegalArgumentException naming the property, its value and what it takes
     */
    static void checkSettings() {
        SegmentReads.mode();
        SegmentReads.bytesProperty("varve.fsck.scanMemory", 0);
        SegmentReads.bytesProperty("varve.fsck.extentMemory", 0);
    }

    /** Waits for a thread of the check to end, keeping an interrupt that came meanwhile for the caller. */
    static void joinUninterruptibly(Thread t) {
        boolean interrupted = false;
        while (true) {
            try {
                t.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Checks through any storage (tests check crash images held in memory). */
    public static Report check(Storage storage, boolean fast) {
        return check(storage, fast, Listener.NONE);
    }

    public static Report check(Storage storage, boolean fast, Listener listener) {
        return check(storage, fast, listener, SpaceCheck.ENGINE);
    }

    static Report check(Storage storage, boolean fast, Listener listener, SpaceCheck.EngineSpace engine) {
        return check(storage, fast, listener, null, engine);
    }

    /** {@code scanned} is null for a storage that is not a directory of files; else run once the log is scanned. */
    private static Report check(Storage storage, boolean fast, Listener listener, Runnable scanned,
            SpaceCheck.EngineSpace engine) {
        checkSettings();
        Report r;
        try (Survey s = Survey.run(storage, fast, new Meter(listener), scanned)) {
            r = s.finish();
        } catch (IOException | RuntimeException e) {
            r = new Report();
            r.aborted = true;
            r.error("check-aborted", 0, -1, Survey.abortMessage(e), (String) null);
            return r;
        }
        SpaceCheck.crossCheck(r, storage, engine);
        return r;
    }

    /**
     * Repairs a store no process has open: checks it, and if it is damaged goes back to the
     * newest commit whose whole content verifies (or, with {@code salvage}, keeps every volume
     * and snapshot that verifies), then checks again. Never writes over a record.
     *
     * @throws dev.varve.engine.StoreLockedException when a process has the store open
     * @throws IOException when the storage fails while writing
     */
    public static RepairResult repair(Path dir, boolean fast, boolean salvage, Listener listener) throws IOException {
        return repair(new FileStorage(dir), fast, salvage, listener);
    }

    public static RepairResult repair(Storage storage, boolean fast, boolean salvage, Listener listener)
            throws IOException {
        checkSettings();
        return Repair.run(storage, fast, salvage, listener);
    }

    /**
     * Holds a store's lock shared while it is checked, so that no process opens it meanwhile;
     * nothing is written (the lock file is opened for reading). Returns null when a process
     * has the store open. A store with no lock file has never been opened for writing since it
     * was copied: there is nothing to hold.
     */
    public static Closeable lockForCheck(Path dir) throws IOException {
        Path lockFile = dir.resolve(Repair.LOCK_FILE);
        FileChannel ch;
        try {
            ch = FileChannel.open(lockFile, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            return () -> { };
        }
        FileLock lock;
        try {
            lock = ch.tryLock(0, Long.MAX_VALUE, true);
        } catch (OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            ch.close();
            return null;
        }
        FileLock held = lock;
        return () -> {
            held.release();
            ch.close();
        };
    }

    /** The process id a store's lock file names (a hint for messages), or null. */
    public static String lockHolder(Path dir) {
        try {
            return Files.readString(dir.resolve(Repair.LOCK_FILE)).trim();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
