package dev.varve.proptest;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.varve.engine.StoreFailedException;
import dev.varve.engine.Store;
import dev.varve.engine.StoreOptions;
import dev.varve.engine.io.CrashableStorage;
import dev.varve.engine.io.CrashableStorage.Op;
import dev.varve.fsck.Fsck;
import dev.varve.fsck.Report;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Power cuts and I/O faults against a store on {@link CrashableStorage}, checked against the
 * model in {@link Workload}: no acknowledged flush or snapshot is ever lost, nothing
 * unacknowledged is half-visible, and fsck finds the recovered image clean. Every failure
 * message carries the seed that replays it. {@code -Dvarve.soak=100} multiplies the counts.
 */
class CrashTest {
    private static final int SOAK = Soak.factor();
    private static final Path ROOT = Path.of("/mem/store");

    private static StoreOptions options(CrashableStorage s) {
        return StoreOptions.defaults().withSegmentSize(1 << 20).withCommitIntervalMillis(0)
                .withDirtyBytesLimit(Long.MAX_VALUE).withNodeCacheBytes(1 << 20).withGcIntervalMillis(0)
                .withStorage(p -> s);
    }

    private static CrashableStorage fresh() throws IOException {
        CrashableStorage s = new CrashableStorage(ROOT);
        try (Store store = Store.create(ROOT, options(s))) {
            Workload.setUp(store);
        }
        return s;
    }

    private static void recoverAndCheck(CrashableStorage image, Workload w, String context) throws IOException {
        try (Store store = Store.open(ROOT, options(image))) {
            String bad = w.verify(store);
            if (bad != null) {
                fail(context + ": " + bad);
            }
            w.settle(store);
        }
        Report r = Fsck.check(image, false);
        if (!r.clean()) {
            fail(context + ": fsck after recovery:\n" + r.summary());
        }
    }

    /**
     * A clean close commits what is live; a close that fails may or may not have. After a failed
     * step the close commits the live state if the failure left the store usable (a failed read
     * changes nothing) and nothing if it refused further commits (a failed write or fsync): the
     * model accepts either, and nothing else.
     */
    private static void closeAsCommit(Store store, Workload w, boolean failed) {
        if (w.attempted == null) {
            w.attempted = Workload.copy(w.live);
        }
        try {
            store.close();
            if (!failed) {
                w.durable = w.attempted;
                w.attempted = null;
            }
        } catch (IOException closeFailed) {
            // the state being closed may or may not be durable: 'attempted' covers both
        }
    }

    @Test
    void powerCutsNeverLoseAcknowledgedWork() throws IOException {
        long base = Long.getLong("varve.seed", System.nanoTime());
        System.out.println("CrashTest.powerCutsNeverLoseAcknowledgedWork seed " + base);
        int rounds = 400 * SOAK;
        int cuts = 0;
        Random r = new Random(base);
        for (int round = 0; round < rounds; round++) {
            long seed = r.nextLong();
            Workload w = new Workload(seed);
            CrashableStorage disk = fresh();
            Random cr = new Random(seed ^ 0x5DEECE66DL);
            for (int epoch = 0; epoch < 50; epoch++) {
                int steps = 1 + cr.nextInt(12);
                Store store = Store.open(ROOT, options(disk));
                boolean failed = false;
                // a cut in the middle of an operation: the n-th write or fsync fails and the power goes
                if (cr.nextBoolean()) {
                    disk.failAt(cr.nextBoolean() ? Op.WRITE : Op.FORCE, 1 + cr.nextInt(6), true, false);
                }
                try {
                    for (int i = 0; i < steps; i++) {
                        w.step(store);
                    }
                } catch (IOException expected) {
                    failed = true; // what was acknowledged must still be there
                }
                closeAsCommit(store, w, failed);
                disk.powerOff();
                CrashableStorage image = disk.crash(cr);
                cuts++;
                recoverAndCheck(image, w, "seed " + seed + " epoch " + epoch);
                disk = image;
            }
        }
        System.out.println("power cuts simulated: " + cuts);
        assertTrue(cuts >= 20_000 * SOAK, "ran " + cuts + " power cuts");
    }

    @Test
    void failTheNthOperationOnceAndForever() throws IOException {
        long base = Long.getLong("varve.seed", System.nanoTime());
        System.out.println("CrashTest.failTheNthOperationOnceAndForever seed " + base);
        Random r = new Random(base);
        int loops = 0;
        for (int workload = 0; workload < 20 * SOAK; workload++) {
            long seed = r.nextLong();
            for (Op op : new Op[] {Op.WRITE, Op.FORCE, Op.CREATE, Op.SYNC_DIR, Op.READ, Op.DELETE}) {
                for (boolean forever : new boolean[] {false, true}) {
                    for (int n = 1; ; n++) {
                        Workload w = new Workload(seed);
                        CrashableStorage disk = fresh();
                        boolean failed = false;
                        Store store = Store.open(ROOT, options(disk));
                        disk.failAt(op, n, forever, false);
                        try {
                            for (int i = 0; i < 40; i++) {
                                w.step(store);
                            }
                        } catch (IOException e) {
                            failed = true;
                            if (op == Op.FORCE || op == Op.WRITE) {
                                // the fsyncgate rule: after a failed write or fsync nothing more is acknowledged
                                Store s = store;
                                IOException after = assertThrows(IOException.class, s::flush, "seed " + seed);
                                if (w.attempted != null || op == Op.FORCE) {
                                    assertTrue(after instanceof StoreFailedException || !forever,
                                            "seed " + seed + " " + op + " #" + n + ": " + after);
                                }
                            }
                        }
                        closeAsCommit(store, w, failed);
                        loops++;
                        disk.failAt(op, Long.MAX_VALUE / 2, false, false);
                        recoverAndCheck(disk.crash(new Random(seed + n)), w, "seed " + seed + " " + op + " #" + n
                                + (forever ? " forever" : " once"));
                        if (!failed) {
                            break;
                        }
                    }
                }
            }
        }
        System.out.println("fault loops run: " + loops);
        assertTrue(loops >= 20 * 6 * 2, "ran " + loops);
    }

    @Test
    void outOfSpaceIsClearAndLosesNothing() throws IOException {
        long seed = Long.getLong("varve.seed", System.nanoTime());
        System.out.println("CrashTest.outOfSpaceIsClearAndLosesNothing seed " + seed);
        Random r = new Random(seed);
        int refused = 0;
        for (int round = 0; round < 50 * SOAK; round++) {
            Workload w = new Workload(r.nextLong());
            CrashableStorage disk = fresh();
            disk.capacity(disk.list().size() * 0L + 2_500_000 + r.nextInt(1_500_000));
            Store store = Store.open(ROOT, options(disk));
            boolean failed = false;
            try {
                for (int i = 0; i < 400; i++) {
                    w.step(store);
                }
            } catch (IOException e) {
                String m = String.valueOf(e.getMessage());
                assertTrue(m.contains("space") || e instanceof StoreFailedException, "unclear error: " + e);
                failed = true;
                refused++;
            }
            closeAsCommit(store, w, failed);
            disk.capacity(Long.MAX_VALUE);
            recoverAndCheck(disk.crash(r), w, "round " + round);
        }
        assertTrue(refused > 0, "the capacity never ran out; the test tested nothing");
    }
}
