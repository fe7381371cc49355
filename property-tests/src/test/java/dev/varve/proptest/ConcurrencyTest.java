package dev.varve.proptest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.varve.engine.BlockDevice;
import dev.varve.engine.Store;
import dev.varve.engine.StoreOptions;
import dev.varve.engine.Volume;
import dev.varve.fsck.Fsck;
import dev.varve.fsck.Report;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Writer threads on their own volumes and on their own ranges of a shared volume, while two
 * control threads snapshot, flush, clone, collect, and write, snapshot, revert and destroy
 * snapshots of a volume of their own, and a reader reads. Afterwards every volume equals its
 * writers' histories; every snapshot of a written volume shows, for each writer's range,
 * exactly the state after some prefix of that writer's writes (a snapshot is a point in time);
 * every clone equals its snapshot; each control thread's volume and each of its snapshots
 * equals that thread's model, and no other snapshot of it exists; all of it again after
 * reopening; fsck clean.
 */
class ConcurrencyTest {
    private static final int WRITERS = 3;
    private static final int RANGE = 64; // blocks per writer
    private static final int WRITES = 4000 * Soak.factor();
    /** Writers go on past WRITES until the first control thread has done this many operations. */
    private static final int CONTROL_OPS = 100 * Soak.factor();
    private static final int MAX_WRITES = 40 * WRITES;

    /** Control threads, each with a volume of its own besides its store-wide operations. */
    private static final int CONTROLS = 2;
    /** Own-volume snapshots each control thread holds before it stops. */
    private static final int OWN_SNAPSHOTS = 8;

    /** A control thread's own volume as it should be, and each of its snapshots. */
    private static final class Own {
        final String volume;
        final byte[] model = new byte[RANGE * Stamp.BLOCK];
        final Map<String, byte[]> snapshots = new ConcurrentHashMap<>();

        Own(String volume) {
            this.volume = volume;
        }
    }

    /** One writer's history: block written by each sequence number (1-based). */
    private static final class History {
        final int[] blockOf = new int[MAX_WRITES + 1];
        volatile int total;

        /** The writer's blocks after writes 1..m: block -> seq (0 = never written). */
        Map<Integer, Long> after(long m) {
            Map<Integer, Long> s = new HashMap<>();
            for (int i = 1; i <= m; i++) {
                s.put(blockOf[i], (long) i);
            }
            return s;
        }
    }

    @Test
    void concurrentWritersSnapshotsClonesRevertsAgreeWithTheirHistories(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("store");
        long seed = Long.getLong("varve.seed", System.nanoTime());
        System.out.println("ConcurrencyTest seed " + seed);
        StoreOptions opts = StoreOptions.defaults().withSegmentSize(1 << 20).withCommitIntervalMillis(20)
                .withGcIntervalMillis(0);
        History[] own = new History[WRITERS];
        History[] shared = new History[WRITERS];
        Map<String, String> cloneOf = new ConcurrentHashMap<>();
        List<String> snapshots = new CopyOnWriteArrayList<>();
        List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
        Own[] owns = new Own[CONTROLS];
        try (Store store = Store.create(dir, opts)) {
            for (int w = 0; w < WRITERS; w++) {
                store.createVolume("w" + w, RANGE * Stamp.BLOCK, Stamp.BLOCK);
                own[w] = new History();
                shared[w] = new History();
            }
            store.createVolume("shared", (long) WRITERS * RANGE * Stamp.BLOCK, Stamp.BLOCK);
            for (int c = 0; c < CONTROLS; c++) {
                owns[c] = new Own("ctl" + c);
                store.createVolume(owns[c].volume, owns[c].model.length, 512);
            }
            AtomicBoolean done = new AtomicBoolean();
            java.util.concurrent.atomic.AtomicInteger controlOps = new java.util.concurrent.atomic.AtomicInteger();
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < WRITERS; w++) {
                int id = w;
                Random r = new Random(seed + w);
                threads.add(new Thread(() -> {
                    try {
                        Volume mine = store.volume("w" + id);
                        Volume sh = store.volume("shared");
                        for (int seq = 1; seq <= MAX_WRITES && (seq <= WRITES || controlOps.get() < CONTROL_OPS); seq++) {
                            int b = r.nextInt(RANGE);
                            own[id].blockOf[seq] = b;
                            byte[] d = new Stamp(id, seq, b).bytes();
                            mine.write((long) b * Stamp.BLOCK, d, 0, d.length);
                            int sb = id * RANGE + r.nextInt(RANGE);
                            shared[id].blockOf[seq] = sb;
                            byte[] e = new Stamp(id, seq, sb).bytes();
                            sh.write((long) sb * Stamp.BLOCK, e, 0, e.length);
                            own[id].total = seq;
                            shared[id].total = seq;
                            if (seq % 10 == 0) {
                                Thread.sleep(1); // let the control threads interleave many operations
                            }
                        }
                    } catch (Throwable t) {
                        errors.add(t);
                    }
                }, "writer-" + w));
            }
            List<Thread> controls = new ArrayList<>();
            for (int c = 0; c < CONTROLS; c++) {
                Own mine = owns[c];
                int id = c;
                controls.add(new Thread(() -> {
                    Random r = new Random(seed ^ (0xC0FFEE + id));
                    List<String> ownSnaps = new ArrayList<>();
                    int n = 0;
                    try {
                        Volume ctl = store.volume(mine.volume);
                        // after the writers stop, each control thread goes on until its own
                        // volume holds a few snapshots to be checked against its model
                        while (!done.get() || mine.snapshots.size() < OWN_SNAPSHOTS) {
                            n++;
                            if (id == 0) {
                                controlOps.incrementAndGet();
                            }
                            String tag = id + "n" + n;
                            switch (r.nextInt(7)) {
                                case 0, 1 -> {
                                    String v = r.nextBoolean() ? "shared" : "w" + r.nextInt(WRITERS);
                                    store.snapshot(v, "s" + tag, Map.of());
                                    snapshots.add(v + "@s" + tag);
                                }
                                case 2 -> store.flush();
                                case 6 -> store.gc(0.9); // compaction under writers and readers
                                case 3 -> {
                                    if (!snapshots.isEmpty()) {
                                        String s = snapshots.get(r.nextInt(snapshots.size()));
                                        int at = s.indexOf('@');
                                        store.clone(s.substring(0, at), s.substring(at + 1), "c" + tag);
                                        cloneOf.put("c" + tag, s);
                                    }
                                }
                                default -> {
                                    // the thread's own volume: write, snapshot, revert, destroy a snapshot
                                    int off = r.nextInt(mine.model.length - 5000);
                                    byte[] d = new byte[1 + r.nextInt(5000)];
                                    r.nextBytes(d);
                                    ctl.write(off, d, 0, d.length);
                                    System.arraycopy(d, 0, mine.model, off, d.length);
                                    int what = r.nextInt(6);
                                    if (what < 2) {
                                        store.snapshot(mine.volume, "k" + n, Map.of());
                                        ownSnaps.add("k" + n);
                                        mine.snapshots.put("k" + n, mine.model.clone());
                                    } else if (what < 4 && !ownSnaps.isEmpty()) {
                                        String s = ownSnaps.get(r.nextInt(ownSnaps.size()));
                                        store.revert(mine.volume, s, null);
                                        System.arraycopy(mine.snapshots.get(s), 0, mine.model, 0, mine.model.length);
                                    } else if (what == 4 && ownSnaps.size() > 3) {
                                        String s = ownSnaps.remove(r.nextInt(ownSnaps.size()));
                                        store.destroySnapshot(mine.volume, s);
                                        mine.snapshots.remove(s);
                                    }
                                }
                            }
                            Thread.sleep(1);
                        }
                    } catch (Throwable t) {
                        errors.add(t);
                    }
                }, "control-" + c));
            }
            Thread reader = new Thread(() -> {
                Random r = new Random(seed ^ 0xBEEF);
                byte[] buf = new byte[8 * Stamp.BLOCK];
                try {
                    while (!done.get()) {
                        String v = r.nextBoolean() ? "shared" : "w" + r.nextInt(WRITERS);
                        BlockDevice d = store.device(v);
                        long blocks = d.size() / Stamp.BLOCK;
                        long b = r.nextInt((int) blocks - 8);
                        d.read(b * Stamp.BLOCK, buf, 0, buf.length);
                        for (int i = 0; i < 8; i++) {
                            Stamp.parse(buf, i * Stamp.BLOCK, b + i); // never torn, never foreign
                        }
                    }
                } catch (Throwable t) {
                    errors.add(t);
                }
            }, "reader");
            threads.forEach(Thread::start);
            controls.forEach(Thread::start);
            reader.start();
            for (Thread t : threads) {
                t.join();
            }
            done.set(true);
            for (Thread t : controls) {
                t.join();
            }
            reader.join();
            if (!errors.isEmpty()) {
                AssertionError e = new AssertionError("seed " + seed + ": " + errors.get(0), errors.get(0));
                errors.forEach(e::addSuppressed);
                throw e;
            }
            verifyAll(store, own, shared, snapshots, cloneOf, owns, seed);
        }
        try (Store store = Store.open(dir, opts)) {
            verifyAll(store, own, shared, snapshots, cloneOf, owns, seed);
        }
        Report rep = Fsck.check(dir, false);
        assertTrue(rep.clean(), rep.summary());
        int ownSnapshots = 0;
        for (Own o : owns) {
            ownSnapshots += o.snapshots.size();
        }
        System.out.println("concurrency: " + WRITERS + " writers x " + own[0].total + " writes x 2 volumes, "
                + snapshots.size() + " snapshots, " + cloneOf.size() + " clones, " + CONTROLS + " control threads' own"
                + " volumes with " + ownSnapshots + " snapshots checked");
        assertTrue(ownSnapshots > 10, "too few snapshots of the control threads' volumes: " + ownSnapshots);
        assertTrue(snapshots.size() > 20, "too few snapshots were taken to mean anything: " + snapshots.size());
    }

    private static Stamp[] stamps(BlockDevice d) throws IOException {
        byte[] all = Workload.read(d);
        Stamp[] s = new Stamp[all.length / Stamp.BLOCK];
        for (int b = 0; b < s.length; b++) {
            s[b] = Stamp.parse(all, b * Stamp.BLOCK, b);
        }
        return s;
    }

    /**
     * A writer's range of a device must hold the state after some prefix of its writes: the
     * newest stamp shown fixes the prefix, and every block must agree with it.
     */
    private static void checkPrefix(Stamp[] s, int first, int count, int writer, History h, boolean complete,
                                    String ctx) {
        long m = 0;
        for (int b = first; b < first + count; b++) {
            if (s[b] != null) {
                if (s[b].writer != writer) {
                    fail(ctx + ": block " + b + " written by writer " + s[b].writer + ", not " + writer);
                }
                m = Math.max(m, s[b].seq);
            }
        }
        if (complete && m != h.total) {
            fail(ctx + ": the head shows only up to write " + m + " of " + h.total);
        }
        Map<Integer, Long> want = h.after(m);
        for (int b = first; b < first + count; b++) {
            long got = s[b] == null ? 0 : s[b].seq;
            long exp = want.getOrDefault(b, 0L);
            if (got != exp) {
                fail(ctx + ": block " + b + " holds write " + got + " but the prefix up to " + m + " gives " + exp);
            }
        }
    }

    private static void verifyAll(Store store, History[] own, History[] shared, List<String> snapshots,
                                  Map<String, String> cloneOf, Own[] owns, long seed) throws IOException {
        String ctx = "seed " + seed;
        for (int w = 0; w < WRITERS; w++) {
            checkPrefix(stamps(store.device("w" + w)), 0, RANGE, w, own[w], true, ctx + " w" + w);
            checkPrefix(stamps(store.device("shared")), w * RANGE, RANGE, w, shared[w], true, ctx + " shared");
        }
        for (String s : snapshots) {
            Stamp[] st = stamps(store.device(s));
            if (s.startsWith("shared@")) {
                for (int w = 0; w < WRITERS; w++) {
                    checkPrefix(st, w * RANGE, RANGE, w, shared[w], false, ctx + " " + s);
                }
            } else {
                int w = Integer.parseInt(s.substring(1, s.indexOf('@')));
                checkPrefix(st, 0, RANGE, w, own[w], false, ctx + " " + s);
            }
        }
        for (Map.Entry<String, String> c : cloneOf.entrySet()) {
            assertArrayEquals(Workload.read(store.device(c.getValue())), Workload.read(store.device(c.getKey())),
                    ctx + ": clone " + c.getKey() + " differs from " + c.getValue());
        }
        for (Own o : owns) {
            assertArrayEquals(o.model, Workload.read(store.device(o.volume)), ctx + ": " + o.volume);
            java.util.TreeSet<String> names = new java.util.TreeSet<>();
            for (var i : store.snapshots(o.volume)) {
                names.add(i.name());
            }
            assertEquals(new java.util.TreeSet<>(o.snapshots.keySet()), names, ctx + ": snapshots of " + o.volume);
            for (Map.Entry<String, byte[]> e : o.snapshots.entrySet()) {
                assertArrayEquals(e.getValue(), Workload.read(store.device(o.volume + "@" + e.getKey())),
                        ctx + ": snapshot " + o.volume + "@" + e.getKey());
            }
        }
    }
}
