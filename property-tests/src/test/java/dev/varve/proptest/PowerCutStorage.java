package dev.varve.proptest;

import dev.varve.engine.io.CrashableStorage;
import dev.varve.engine.io.ForwardingStorage;
import dev.varve.engine.io.StorageFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.BitSet;
import java.util.HashSet;
import java.util.Set;

/**
 * A {@link CrashableStorage} seen through a counter: it numbers every operation that changes
 * the disk (write, force, create, delete, rename, directory sync, truncate) and, when asked,
 * cuts the power at the N-th, which then throws, as does everything after it. It also knows
 * whether anything written is not yet durable (a file written or truncated since its last
 * force, or a name created or renamed since the last directory sync), so a test can tell a cut
 * that could lose data from one that finds everything synced.
 */
final class PowerCutStorage extends ForwardingStorage {
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
        super(disk);
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

    private final class Handle extends ForwardingStorage.File {
        private final String name;

        Handle(String name, StorageFile f) {
            super(f);
            this.name = name;
        }

        @Override
        public void write(ByteBuffer src, long position) throws IOException {
            synchronized (PowerCutStorage.this) {
                mutation("write " + name + " at " + position + ", " + src.remaining() + " bytes");
                delegate.write(src, position);
                unsyncedFiles.add(name);
            }
        }

        @Override
        public void force() throws IOException {
            synchronized (PowerCutStorage.this) {
                mutation("force " + name);
                delegate.force();
                unsyncedFiles.remove(name);
            }
        }

        @Override
        public void truncate(long size) throws IOException {
            synchronized (PowerCutStorage.this) {
                mutation("truncate " + name);
                delegate.truncate(size);
                unsyncedFiles.add(name);
            }
        }
    }
}
