package dev.varve.proptest;

import dev.varve.engine.BlockDevice;
import dev.varve.engine.SnapshotInfo;
import dev.varve.engine.Store;
import dev.varve.engine.Volume;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;

/**
 * A random workload against a store, mirrored in a plain model: the bytes of each volume now
 * ({@code live}) and as of the last acknowledged flush, snapshot or collection
 * ({@code durable}), and every acknowledged snapshot.
 *
 * <p>Two ways to judge a store reopened after a failure ({@link #verify}):
 * <ul>
 * <li>exact, when nothing commits in the background: every volume is at its durable state, or,
 *     if a commit point (flush, snapshot, collection, close) was under way, every volume is at
 *     the live state that commit would have made durable;
 * <li>per block, when a commit timer or a dirty-data limit may commit unflushed writes at any
 *     moment: every block of every volume holds one of the contents it has had since the last
 *     acknowledged commit point (the acknowledged one or a later one, never a mix within the
 *     block, never another block's).
 * </ul>
 * Either way every acknowledged snapshot is there, unchanged, and no snapshot that was never
 * asked for appears.
 *
 * <p>A volume's content array is never changed once it is in the model: a change makes a new
 * one, so states and versions share arrays instead of copying them.
 */
final class Workload {
    static final String[] VOLUMES = {"a", "b"};
    static final int[] BLOCK_SIZES = {512, 4096};
    static final int SIZE = 256 * 1024;
    /** Flushes of at most this much data carry it in their intent records (StoreOptions.inlineFlushBytes). */
    static final int INLINE_LIMIT = 64 * 1024;

    /** What the flushes look like: small ones take the inline intent path, large ones force data segments. */
    enum Flushes {
        /** Writes of up to 4 KiB, a flush every two or three steps: flushes of at most 64 KiB. */
        SMALL,
        /** Writes of 16 to 64 KiB, a flush every five or six steps: flushes of well over 64 KiB. */
        LARGE,
        /** Writes of up to 20 KB, trims, snapshots and collections: both. */
        MIXED
    }

    final Flushes flushes;
    final boolean perBlock;
    Random random;
    final Map<String, byte[]> live = new HashMap<>();
    Map<String, byte[]> durable;
    /**
     * Per volume, when judging per block: each content it has had since the model last settled,
     * from there; those from {@link #acked} on are the ones a recovered block may hold.
     */
    final Map<String, List<byte[]>> history = new HashMap<>();
    /** Per volume, where in its history the acknowledged state is. */
    final Map<String, Integer> acked = new HashMap<>();
    /**
     * The states of the commit points (flush, snapshot, collection, close) begun since the last
     * acknowledged one, which failed or were cut: each may or may not have become durable.
     */
    final List<Map<String, byte[]>> inFlight = new ArrayList<>();
    final Map<String, byte[]> snapshots = new HashMap<>();
    String attemptedSnapshot;
    byte[] attemptedSnapshotContent;
    int snapshotCounter;
    /** Data written since the last flush, in whole blocks (what decides the inline path). */
    long unflushedBytes;
    /** The data of the flush under way when the run stopped (0: none). */
    long flushInFlight;
    /** The steps since the model last settled, for failure messages. */
    final List<String> trail = new ArrayList<>();

    Workload(long seed) {
        this(seed, Flushes.MIXED, false);
    }

    Workload(long seed, Flushes flushes, boolean perBlock) {
        this.random = new Random(seed);
        this.flushes = flushes;
        this.perBlock = perBlock;
        byte[] zero = new byte[SIZE];
        for (String v : VOLUMES) {
            live.put(v, zero);
            history.put(v, new ArrayList<>(List.of(zero)));
            acked.put(v, 0);
        }
        durable = new HashMap<>(live);
    }

    /** A copy to run the same steps on elsewhere (a dry run), from {@code seed}. */
    Workload fork(long seed) {
        return fork(seed, flushes);
    }

    /** As {@link #fork(long)}, with other flushes from here on. */
    Workload fork(long seed, Flushes flushes) {
        Workload w = new Workload(seed, flushes, perBlock);
        w.live.putAll(live);
        w.durable = new HashMap<>(durable);
        w.snapshots.putAll(snapshots);
        w.snapshotCounter = snapshotCounter;
        return w;
    }

    /**
     * A copy of what the model knows, to judge a second recovery of the same failure (the
     * copy and this one then go their own ways).
     */
    Workload copy() {
        Workload w = fork(0);
        w.random = random;
        w.inFlight.addAll(inFlight);
        w.attemptedSnapshot = attemptedSnapshot;
        w.attemptedSnapshotContent = attemptedSnapshotContent;
        w.unflushedBytes = unflushedBytes;
        w.flushInFlight = flushInFlight;
        w.trail.addAll(trail);
        for (String v : VOLUMES) {
            w.history.put(v, new ArrayList<>(history.get(v)));
            w.acked.put(v, acked.get(v));
        }
        return w;
    }

    static void setUp(Store store) throws IOException {
        for (int i = 0; i < VOLUMES.length; i++) {
            store.createVolume(VOLUMES[i], SIZE, BLOCK_SIZES[i]);
        }
        store.flush();
    }

    /**
     * Changes a volume in the model. Judged per block, the new content is a possible version
     * before the store is asked: a write that fails may have reached a commit the store made by
     * itself (at the dirty-data limit, in the write's own call).
     */
    private void change(String v, int off, int len, byte[] data, Op op) throws IOException {
        byte[] next = live.get(v).clone();
        if (data == null) {
            Arrays.fill(next, off, off + len, (byte) 0);
        } else {
            System.arraycopy(data, 0, next, off, len);
        }
        if (perBlock) {
            history.get(v).add(next);
        }
        op.run();
        live.put(v, next);
    }

    private interface Op {
        void run() throws IOException;
    }

    private void acknowledged() {
        durable = new HashMap<>(live);
        inFlight.clear();
        flushInFlight = 0;
        if (perBlock) {
            for (String v : VOLUMES) {
                history.get(v).add(durable.get(v));
                acked.put(v, history.get(v).size() - 1);
            }
        }
    }

    /** One random step; throws whatever the store throws (the caller decides what it means). */
    void step(Store store) throws IOException {
        int i = random.nextInt(VOLUMES.length);
        String v = VOLUMES[i];
        int bs = BLOCK_SIZES[i];
        int kind = random.nextInt(100);
        int writes = switch (flushes) {
            case SMALL -> 60;
            case LARGE -> 71;
            case MIXED -> 57;
        };
        int trims = writes + (flushes == Flushes.MIXED ? 10 : 4);
        int flush = trims + switch (flushes) {
            case SMALL -> 30;
            case LARGE -> 18;
            case MIXED -> 19;
        };
        int snapshot = flush + (flushes == Flushes.MIXED ? 9 : 4);
        if (kind < writes) {
            write(store.volume(v), v, bs);
        } else if (kind < trims) {
            int off = random.nextInt(SIZE - 30_000);
            int len = 1 + random.nextInt(30_000);
            Volume vol = store.volume(v);
            trail.add("trim " + v + " " + off + "+" + len);
            change(v, off, len, null, () -> vol.trim(off, len));
            // the partial edge blocks are written as zeroes
            unflushedBytes += 2L * bs;
        } else if (kind < flush) {
            long bytes = unflushedBytes;
            trail.add("flush (" + bytes + " bytes)");
            committing();
            flushInFlight = bytes;
            store.flush();
            acknowledged();
            unflushedBytes = 0;
        } else if (kind < snapshot) {
            String name = "s" + (snapshotCounter++);
            attemptedSnapshot = v + "@" + name;
            trail.add("snapshot " + attemptedSnapshot);
            attemptedSnapshotContent = live.get(v);
            committing();
            store.snapshot(v, name, Map.of("n", name));
            snapshots.put(attemptedSnapshot, attemptedSnapshotContent);
            attemptedSnapshot = null;
            attemptedSnapshotContent = null;
            acknowledged();
            unflushedBytes = 0;
        } else {
            collect(store);
        }
    }

    /**
     * Writes a block of zeroes at the start of the first volume and tries to flush it: the
     * write is in the model whether or not the store takes it, as it may be durable after a
     * failure even if every flush is refused (an fsync that failed may have written some of it).
     */
    void writeAndFlushAfterFailure(Store store) throws IOException {
        String v = VOLUMES[0];
        Volume vol = store.volume(v);
        trail.add("write " + v + " 0+4096 after the failure, and flushes");
        try {
            change(v, 0, 4096, new byte[4096], () -> vol.write(0, new byte[4096], 0, 4096));
        } finally {
            committing();
        }
    }

    /** A commit point begins: the live state may become durable. */
    private void committing() {
        inFlight.add(new HashMap<>(live));
    }

    /** Writes every volume whole, 64 KiB at a time, and flushes. */
    void overwriteAll(Store store) throws IOException {
        for (String v : VOLUMES) {
            Volume vol = store.volume(v);
            for (int off = 0; off < SIZE; off += 64 * 1024) {
                byte[] d = data(64 * 1024);
                int at = off;
                change(v, off, d.length, d, () -> vol.write(at, d, 0, d.length));
            }
        }
        trail.add("every volume written whole");
        committing();
        store.flush();
        acknowledged();
        unflushedBytes = 0;
    }

    /** Collects (compacting every segment not full), then flushes: both are commit points. */
    void collect(Store store) throws IOException {
        trail.add("gc and flush");
        committing();
        store.gc(1.0);
        store.flush();
        acknowledged();
        unflushedBytes = 0;
    }

    private void write(Volume vol, String v, int bs) throws IOException {
        boolean aligned = random.nextBoolean();
        int off;
        int len;
        switch (flushes) {
            case SMALL -> {
                len = aligned ? bs * (1 + random.nextInt(Math.max(1, 4096 / bs))) : 1 + random.nextInt(4096);
            }
            case LARGE -> {
                len = aligned ? bs * ((16 * 1024 + random.nextInt(48 * 1024)) / bs) : 16 * 1024 + random.nextInt(48 * 1024);
            }
            default -> {
                len = aligned ? bs * (1 + random.nextInt(16)) : 1 + random.nextInt(20_000);
            }
        }
        off = aligned ? bs * random.nextInt((SIZE - len) / bs + 1) : random.nextInt(SIZE - len + 1);
        byte[] d = data(len);
        trail.add("write " + v + " " + off + "+" + len);
        int at = off;
        int n = len;
        change(v, off, len, d, () -> vol.write(at, d, 0, n));
        unflushedBytes += (long) ((off + len + bs - 1) / bs - off / bs) * bs;
    }

    /** Random bytes, eight at a time (Random.nextBytes makes four per call). */
    private byte[] data(int len) {
        byte[] d = new byte[len];
        long x = random.nextLong() | 1;
        for (int i = 0; i < len; i++) {
            if ((i & 7) == 0) {
                x ^= x << 13;
                x ^= x >>> 7;
                x ^= x << 17;
            }
            d[i] = (byte) (x >>> ((i & 7) << 3));
        }
        return d;
    }

    /** A close under way: it commits the live state if it completes. */
    void closing() {
        committing();
    }

    /** A close completed: the live state is durable. */
    void closed() {
        acknowledged();
        unflushedBytes = 0;
    }

    static byte[] read(BlockDevice d) throws IOException {
        byte[] b = new byte[(int) d.size()];
        d.read(0, b, 0, b.length);
        return b;
    }

    /**
     * Checks a reopened store against the model (see the class comment).
     *
     * @return null when it agrees, else what differs
     */
    String verify(Store store) throws IOException {
        Map<String, byte[]> got = new HashMap<>();
        for (String v : VOLUMES) {
            got.put(v, read(store.volume(v)));
        }
        seen = got;
        if (perBlock) {
            for (int i = 0; i < VOLUMES.length; i++) {
                String bad = blockByBlock(VOLUMES[i], BLOCK_SIZES[i], got.get(VOLUMES[i]));
                if (bad != null) {
                    return bad;
                }
            }
        } else if (!same(got, durable) && inFlight.stream().noneMatch(s -> same(got, s))) {
            return "volumes match neither the last acknowledged state nor " + (inFlight.isEmpty()
                    ? "any other (no commit was under way)" : "the state of a commit under way ("
                    + inFlight.size() + " known)") + ": " + firstDifference(got);
        }
        TreeSet<String> names = new TreeSet<>();
        for (SnapshotInfo s : store.snapshots()) {
            names.add(s.fullName());
        }
        for (Map.Entry<String, byte[]> s : snapshots.entrySet()) {
            if (!names.remove(s.getKey())) {
                return "acknowledged snapshot " + s.getKey() + " is gone";
            }
            if (!Arrays.equals(read(store.device(s.getKey())), s.getValue())) {
                return "acknowledged snapshot " + s.getKey() + " differs";
            }
        }
        if (attemptedSnapshot != null && names.remove(attemptedSnapshot)
                && !Arrays.equals(read(store.device(attemptedSnapshot)), attemptedSnapshotContent)) {
            return "snapshot " + attemptedSnapshot + ", under way at the failure, is there with other content";
        }
        if (!names.isEmpty()) {
            return "snapshots nobody took appeared: " + names;
        }
        return null;
    }

    private static boolean same(Map<String, byte[]> a, Map<String, byte[]> b) {
        for (String v : VOLUMES) {
            if (!Arrays.equals(a.get(v), b.get(v))) {
                return false;
            }
        }
        return true;
    }

    private String firstDifference(Map<String, byte[]> got) {
        for (String v : VOLUMES) {
            int at = Arrays.mismatch(got.get(v), durable.get(v));
            if (at >= 0) {
                return "volume " + v + " differs from its acknowledged state at byte " + at;
            }
        }
        return "every volume is at its acknowledged state";
    }

    private String blockByBlock(String v, int bs, byte[] got) {
        List<byte[]> versions = history.get(v);
        int from = acked.get(v);
        for (int off = 0; off < SIZE; off += bs) {
            int found = -1;
            for (int i = versions.size() - 1; i >= 0 && found < from; i--) {
                if (Arrays.equals(got, off, off + bs, versions.get(i), off, off + bs)) {
                    found = i;
                }
            }
            if (found < from) {
                return "volume " + v + " block " + off / bs + (found < 0 ? " holds content it never had"
                        : " went back to its content before the last acknowledged commit point (version " + found
                        + " of " + versions.size() + ", acknowledged " + from + "): an acknowledged write is lost");
            }
        }
        return null;
    }

    /** The volumes as {@link #verify} read them, for {@link #settle} on the same store. */
    private Map<String, byte[]> seen;

    /** After recovery, on the store just verified: what it shows is durable now. */
    void settle(Store store) throws IOException {
        for (String v : VOLUMES) {
            live.put(v, seen != null ? seen.get(v) : read(store.volume(v)));
        }
        seen = null;
        trail.clear();
        for (String v : VOLUMES) {
            history.get(v).clear();
        }
        if (attemptedSnapshot != null) {
            for (SnapshotInfo s : store.snapshots()) {
                if (s.fullName().equals(attemptedSnapshot)) {
                    snapshots.put(attemptedSnapshot, attemptedSnapshotContent);
                }
            }
        }
        attemptedSnapshot = null;
        attemptedSnapshotContent = null;
        acknowledged();
        unflushedBytes = 0;
    }
}
