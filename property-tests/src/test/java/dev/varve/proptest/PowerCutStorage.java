package dev.varve.proptest;

import dev.varve.engine.io.CrashableStorage;
import dev.varve.engine.io.Storage;
import dev.varve.engine.io.StorageFile;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A {@link CrashableStorage} seen through a counter: it numbers every operation that changes
 * the disk (write, force, create, delete, rename, directory sync, truncate) and, when asked,
 * cuts the power at the N-th, which then throws, as does everything after it. It also knows
 * whether anything written is not yet durable (a file written or truncated since its last
 * force, or a name created or renamed since the last directory sync), so a test can tell a cut
 * that could lose data from one that finds everything synced.
 */
final class PowerCutStorage implements Storage {
    private final CrashableStorage disk;
    private long mutations;
    private long cutAt = Long.MAX_VALUE;
    private boolean cut;
    private boolean unsyncedAtCut;
    private final Set<String> unsyncedFiles = new HashSet<>();
    private final Set<String> unsyncedNames = new HashSet<>();
    /** Changing operations (numbered from 1) that found unsynced writes outstanding. */
    private final BitSet unsyncedBefore = new BitSet();

    PowerCutStorage(CrashableStorage disk) {
        this.disk = disk;
    }

    CrashableStorage disk() {
        return disk;
    }

    /** Cuts the power at the n-th changing operation counted from now (1-based). */
    synchronized void cutAt(long n) {
        cutAt = mutations + n;
    }

    /** Changing operations done so far (the one a cut stopped included). */
    synchronized long mutations() {
        return mutations;
    }

    synchronized boolean wasCut() {
        return cut;
    }

    /** Whether unsynced writes were outstanding when the power was cut. */
    synchronized boolean unsyncedAtCut() {
        return unsyncedAtCut;
    }

    /**
     * Which of the changing operations after the {@code from}-th found unsynced writes
     * outstanding, numbered from 1 as {@link #cutAt} counts them: a power cut at one of them
     * loses those writes unless the engine made it safe to.
     */
    synchronized long[] unsyncedOperationsAfter(long from) {
        return unsyncedBefore.get((int) from + 1, (int) mutations + 1).stream().mapToLong(i -> i + 1L).toArray();
    }

    synchronized boolean hasUnsynced() {
        return !unsyncedFiles.isEmpty() || !unsyncedNames.isEmpty();
    }

    /** Cuts the power now, between operations. */
    synchronized void cutNow() {
        if (!cut) {
            cut = true;
            unsyncedAtCut = hasUnsynced();
            disk.powerOff();
        }
    }

    /** The last operations and notes, for a failure's message: what the engine did up to the cut. */
    private final ArrayDeque<String> trace = new ArrayDeque<>();
    private static final int TRACE_LINES = 60;

    /** Adds a line to the trace (a test's own step, say). */
    synchronized void note(String line) {
        if (trace.size() == TRACE_LINES) {
            trace.removeFirst();
        }
        trace.addLast(line);
    }

    /** The last operations, one a line: number, thread, what, and "unsynced" when writes were outstanding. */
    synchronized String trace() {
        return String.join("\n", trace);
    }

    private void mutation(String what) throws IOException {
        note((mutations + 1) + " " + Thread.currentThread().getName() + ": " + what + (hasUnsynced() ? " (unsynced)" : ""));
        if (cut) {
            throw new IOException("simulated power loss (cut before " + what + ")");
        }
        ++mutations;
        if (hasUnsynced()) {
            unsyncedBefore.set((int) mutations);
        }
        if (mutations >= cutAt) {
            cutNow();
            throw new IOException("simulated power loss at operation " + mutations + " (" + what + ")");
        }
    }

    @Override
    public synchronized StorageFile open(String name, boolean create) throws IOException {
        if (create && !disk.exists(name)) {
            mutation("create " + name);
            StorageFile f = disk.open(name, true);
            unsyncedNames.add(name);
            return new Handle(name, f);
        }
        return new Handle(name, disk.open(name, false));
    }

    @Override
    public synchronized boolean exists(String name) throws IOException {
        return disk.exists(name);
    }

    @Override
    public synchronized List<String> list() throws IOException {
        return disk.list();
    }

    @Override
    public synchronized void delete(String name) throws IOException {
        mutation("delete " + name);
        disk.delete(name);
        unsyncedFiles.remove(name);
        unsyncedNames.remove(name);
    }

    @Override
    public synchronized void rename(String from, String to) throws IOException {
        mutation("rename " + from + " to " + to);
        disk.rename(from, to);
        if (unsyncedFiles.remove(from)) {
            unsyncedFiles.add(to);
        }
        unsyncedNames.remove(from);
        unsyncedNames.add(to);
    }

    @Override
    public synchronized void syncDirectory() throws IOException {
        mutation("directory sync");
        disk.syncDirectory();
        unsyncedNames.clear();
    }

    @Override
    public Closeable tryLock(String name) throws IOException {
        return disk.tryLock(name);
    }

    @Override
    public Path path(String name) {
        return disk.path(name);
    }

    @Override
    public Path root() {
        return disk.root();
    }

    @Override
    public boolean rootExists() {
        return disk.rootExists();
    }

    @Override
    public void createRoot() throws IOException {
        disk.createRoot();
    }

    private final class Handle implements StorageFile {
        private final String name;
        private final StorageFile f;

        Handle(String name, StorageFile f) {
            this.name = name;
            this.f = f;
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            return f.read(dst, position);
        }

        @Override
        public void write(ByteBuffer src, long position) throws IOException {
            synchronized (PowerCutStorage.this) {
                mutation("write " + name + " at " + position + ", " + src.remaining() + " bytes");
                f.write(src, position);
                unsyncedFiles.add(name);
            }
        }

        @Override
        public void force() throws IOException {
            synchronized (PowerCutStorage.this) {
                mutation("force " + name);
                f.force();
                unsyncedFiles.remove(name);
            }
        }

        @Override
        public long size() throws IOException {
            return f.size();
        }

        @Override
        public void truncate(long size) throws IOException {
            synchronized (PowerCutStorage.this) {
                mutation("truncate " + name);
                f.truncate(size);
                unsyncedFiles.add(name);
            }
        }

        @Override
        public Path path() {
            return f.path();
        }

        @Override
        public void close() throws IOException {
            f.close();
        }
    }
}
