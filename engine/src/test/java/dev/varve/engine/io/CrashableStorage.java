package dev.varve.engine.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;

/**
 * An in-memory storage that models a disk losing power. It keeps, per file, what was synced
 * and the writes since; {@link #crash} keeps the synced bytes plus a random subset of the
 * unsynced writes, sector by sector (512 bytes), in any order, possibly tearing a sector, and
 * drops files whose creation was never made durable by a directory sync. It can also fail the
 * n-th operation of a kind, once or from then on, or report out of space.
 */
public final class CrashableStorage implements Storage {
    public static final int SECTOR = 512;

    /** Operation kinds for fault injection. */
    public enum Op { READ, WRITE, FORCE, CREATE, DELETE, SYNC_DIR, RENAME }

    private static final class MemFile {
        byte[] durable = new byte[0];
        byte[] current = new byte[0];
        final List<long[]> pendingRanges = new ArrayList<>();
        final List<byte[]> pendingData = new ArrayList<>();
    }

    private final Path root;
    private final Map<String, MemFile> files = new TreeMap<>();
    private final Set<String> createdSinceDirSync = new HashSet<>();
    /** Renames not yet made durable: new name to old name; a crash may undo each. */
    private final Map<String, String> renamedSinceDirSync = new java.util.HashMap<>();
    private final Set<String> locks = new HashSet<>();
    private final long[] counts = new long[Op.values().length];
    private Op failOp;
    private long failAt = -1;
    private boolean failForever;
    private boolean outOfSpace;
    private boolean dead;
    private long capacity = Long.MAX_VALUE;

    public CrashableStorage(Path root) {
        this.root = root;
    }

    /** Fails the n-th (1-based, counted from now) operation of {@code op}; forever after, if asked. */
    public synchronized void failAt(Op op, long n, boolean forever, boolean asOutOfSpace) {
        this.failOp = op;
        this.failAt = counts[op.ordinal()] + n;
        this.failForever = forever;
        this.outOfSpace = asOutOfSpace;
    }

    /** Every operation from now on throws, as if the power were gone. */
    public synchronized void powerOff() {
        dead = true;
    }

    /** Caps the total bytes stored; writes past it fail with "No space left on device". */
    public synchronized void capacity(long bytes) {
        this.capacity = bytes;
    }

    public synchronized long operations(Op op) {
        return counts[op.ordinal()];
    }

    private void tick(Op op) throws IOException {
        if (dead) {
            throw new IOException("simulated power loss");
        }
        long n = ++counts[op.ordinal()];
        if (op == failOp && failAt > 0 && (n == failAt || (failForever && n > failAt))) {
            throw new IOException(outOfSpace ? "No space left on device (simulated)" : "simulated I/O error on " + op + " #" + n);
        }
    }

    /**
     * The disk as it would be found after a power cut now: synced bytes, plus a random subset of
     * unsynced sectors (possibly torn), with unsynced new files possibly gone.
     */
    public synchronized CrashableStorage crash(Random r) {
        CrashableStorage after = new CrashableStorage(root);
        for (Map.Entry<String, MemFile> e : files.entrySet()) {
            if (createdSinceDirSync.contains(e.getKey()) && r.nextBoolean()) {
                continue;
            }
            MemFile f = e.getValue();
            byte[] img = f.durable.clone();
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < f.pendingRanges.size(); i++) {
                order.add(i);
            }
            if (r.nextInt(4) == 0) {
                java.util.Collections.shuffle(order, r);
            }
            for (int i : order) {
                long pos = f.pendingRanges.get(i)[0];
                byte[] data = f.pendingData.get(i);
                for (int s = 0; s < data.length; s += SECTOR) {
                    int n = Math.min(SECTOR, data.length - s);
                    int mode = r.nextInt(8);
                    if (mode < 4) {
                        continue;
                    }
                    if (mode == 7) {
                        n = r.nextInt(n + 1);
                    }
                    img = ensure(img, pos + s + n);
                    System.arraycopy(data, s, img, (int) (pos + s), n);
                }
            }
            MemFile g = new MemFile();
            g.durable = img;
            g.current = img.clone();
            String name = e.getKey();
            if (renamedSinceDirSync.containsKey(name) && r.nextBoolean()) {
                name = renamedSinceDirSync.get(name); // the rename did not reach the disk
            }
            after.files.put(name, g);
        }
        return after;
    }

    /**
     * The worst power cut now: only synced bytes are left, every file created or renamed since
     * the last directory sync is gone or back under its old name.
     */
    public synchronized CrashableStorage crashLosingUnsynced() {
        CrashableStorage after = new CrashableStorage(root);
        for (Map.Entry<String, MemFile> e : files.entrySet()) {
            if (createdSinceDirSync.contains(e.getKey())) {
                continue;
            }
            MemFile g = new MemFile();
            g.durable = e.getValue().durable.clone();
            g.current = g.durable.clone();
            after.files.put(renamedSinceDirSync.getOrDefault(e.getKey(), e.getKey()), g);
        }
        return after;
    }

    /** Flips one bit of a file, in its synced and its current content alike (bit rot). */
    public synchronized void flipBit(String name, long bit) {
        MemFile f = files.get(name);
        int at = (int) (bit >>> 3);
        byte mask = (byte) (1 << (bit & 7));
        f.current[at] ^= mask;
        if (at < f.durable.length) {
            f.durable[at] ^= mask;
        }
    }

    /** A copy of a file's current content. */
    public synchronized byte[] contents(String name) {
        return files.get(name).current.clone();
    }

    private static byte[] ensure(byte[] b, long size) {
        return b.length >= size ? b : Arrays.copyOf(b, (int) size);
    }

    private synchronized long totalBytes() {
        long t = 0;
        for (MemFile f : files.values()) {
            t += f.current.length;
        }
        return t;
    }

    @Override
    public synchronized StorageFile open(String name, boolean create) throws IOException {
        MemFile f = files.get(name);
        if (f == null) {
            if (!create) {
                throw new NoSuchFileException(root.resolve(name).toString());
            }
            tick(Op.CREATE);
            f = new MemFile();
            files.put(name, f);
            createdSinceDirSync.add(name);
        }
        return new Handle(name, f);
    }

    @Override
    public synchronized boolean exists(String name) {
        return files.containsKey(name);
    }

    @Override
    public synchronized List<String> list() {
        return new ArrayList<>(files.keySet());
    }

    @Override
    public synchronized void delete(String name) throws IOException {
        tick(Op.DELETE);
        files.remove(name);
        renamedSinceDirSync.remove(name);
    }

    @Override
    public synchronized void rename(String from, String to) throws IOException {
        tick(Op.RENAME);
        MemFile f = files.get(from);
        if (f == null) {
            throw new NoSuchFileException(root.resolve(from).toString());
        }
        if (files.containsKey(to)) {
            throw new java.nio.file.FileAlreadyExistsException(root.resolve(to).toString());
        }
        files.remove(from);
        files.put(to, f);
        if (createdSinceDirSync.remove(from)) {
            createdSinceDirSync.add(to);
        } else {
            String original = renamedSinceDirSync.remove(from);
            renamedSinceDirSync.put(to, original != null ? original : from);
        }
    }

    @Override
    public synchronized void syncDirectory() throws IOException {
        tick(Op.SYNC_DIR);
        createdSinceDirSync.clear();
        renamedSinceDirSync.clear();
    }

    @Override
    public synchronized Closeable tryLock(String name) {
        if (!locks.add(name)) {
            return null;
        }
        return () -> {
            synchronized (CrashableStorage.this) {
                locks.remove(name);
            }
        };
    }

    @Override
    public Path path(String name) {
        return root.resolve(name);
    }

    @Override
    public Path root() {
        return root;
    }

    @Override
    public boolean rootExists() {
        return true;
    }

    @Override
    public void createRoot() {
        // always there
    }

    private final class Handle implements StorageFile {
        private final String name;
        private final MemFile f;

        Handle(String name, MemFile f) {
            this.name = name;
            this.f = f;
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            synchronized (CrashableStorage.this) {
                tick(Op.READ);
                if (position >= f.current.length) {
                    return 0;
                }
                int n = (int) Math.min(dst.remaining(), f.current.length - position);
                dst.put(f.current, (int) position, n);
                return n;
            }
        }

        @Override
        public void write(ByteBuffer src, long position) throws IOException {
            synchronized (CrashableStorage.this) {
                tick(Op.WRITE);
                int n = src.remaining();
                long grow = Math.max(0, position + n - f.current.length);
                if (grow > 0 && totalBytes() + grow > capacity) {
                    throw new IOException("No space left on device (simulated capacity)");
                }
                byte[] data = new byte[n];
                src.get(data);
                f.current = ensure(f.current, position + n);
                System.arraycopy(data, 0, f.current, (int) position, n);
                f.pendingRanges.add(new long[] {position});
                f.pendingData.add(data);
            }
        }

        @Override
        public void force() throws IOException {
            synchronized (CrashableStorage.this) {
                tick(Op.FORCE);
                f.durable = f.current.clone();
                f.pendingRanges.clear();
                f.pendingData.clear();
            }
        }

        @Override
        public long size() {
            synchronized (CrashableStorage.this) {
                return f.current.length;
            }
        }

        @Override
        public void truncate(long size) {
            synchronized (CrashableStorage.this) {
                f.current = Arrays.copyOf(f.current, (int) size);
            }
        }

        @Override
        public Path path() {
            return root.resolve(name);
        }

        @Override
        public void close() {
            // nothing held
        }
    }
}
