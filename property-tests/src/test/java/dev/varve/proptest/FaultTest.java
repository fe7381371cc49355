package dev.varve.proptest;

import static dev.varve.proptest.MemoryStores.ROOT;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.Store;
import dev.varve.engine.StoreFailedException;
import dev.varve.engine.io.CrashableStorage;
import dev.varve.engine.io.CrashableStorage.Op;
import dev.varve.proptest.MemoryStores.Setup;
import java.io.IOException;
import java.util.EnumMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * I/O faults, one operation at a time: for each workload a dry run counts the operations of each
 * kind (read, write, fsync, create, delete, rename, directory sync) from opening the store to
 * closing it; then, for every N up to that count, the workload runs again with the N-th
 * operation of that kind failing, once and (in a second run) forever.
 *
 * <ul>
 * <li>Every such run must fail: a fault the store swallows fails the test.
 * <li>After a failed write or fsync the store acknowledges nothing more until it is reopened:
 *     three flushes (after another write) and a snapshot are all refused (the fsyncgate rule: a
 *     later fsync that succeeds says nothing about the pages the failed one dropped).
 * <li>Reopened (after a power cut that keeps a random share of the unsynced sectors), the store
 *     is at its last good commit, or at the one under way when the fault came, never between;
 *     every acknowledged snapshot is there, unchanged; fsck finds it clean.
 * </ul>
 * Failures name the seed and the workload (as a round) that replay them.
 */
class FaultTest {
    private static final int WORKLOADS = 20 * Soak.factor();
    private static final int HISTORY_STEPS = 40;
    private static final int STEPS = 16;
    private static final int OVERWRITES = 4;
    /**
     * Renames come only where a collection reuses a freed file for what it moves, which depends
     * on the layout a workload leaves: about one workload in three of those that overwrite their
     * volumes before they collect, none of the others. While the run has tested fewer renames
     * than this, more overwriting workloads run after the {@link #WORKLOADS}, up to
     * {@link #MAX_EXTRA}, so the floor holds whatever the seed.
     */
    private static final int RENAME_FLOOR = 2;
    private static final int MAX_EXTRA = 40;
    private static final Op[] KINDS = {Op.READ, Op.WRITE, Op.FORCE, Op.CREATE, Op.DELETE, Op.RENAME, Op.SYNC_DIR};

    @Test
    void failTheNthOperationOnceAndForever() throws IOException {
        Replay replay = Replay.start("FaultTest.failTheNthOperationOnceAndForever");
        Map<Op, Long> loops = new EnumMap<>(Op.class);
        long refusedAfterFailure = 0;
        for (int workload = 0; workload < WORKLOADS + MAX_EXTRA; workload++) {
            boolean extra = workload >= WORKLOADS;
            if (extra && !replay.replayingOne() && loops.getOrDefault(Op.RENAME, 0L) >= RENAME_FLOOR) {
                break;
            }
            if (!replay.runs(workload)) {
                continue;
            }
            long seed = replay.seed(workload);
            // three in four under a (far) size limit, where the collector deletes dead segments
            // before it compacts, and reuses their files (renamed) for what it moves
            Setup setup = Setup.plain(Workload.Flushes.values()[workload % 3]);
            if (workload % 4 != 3 || extra) {
                setup = setup.withMaxSize(64L << 20);
            }
            int overwrites = workload % 4 == 0 || extra ? OVERWRITES : 0;
            // the workload runs from the store its history left, with the model of that history
            Workload history = new Workload(~seed, Workload.Flushes.LARGE, false);
            CrashableStorage template = template(setup, history);
            Map<Op, Long> count = dryRun(template, setup, history, seed, overwrites);
            for (Op op : KINDS) {
                for (boolean forever : new boolean[] {false, true}) {
                    for (long n = 1; n <= count.get(op); n++) {
                        String ctx = replay.of(workload) + " " + op + " #" + n + (forever ? " forever" : " once")
                                + " (" + setup + ", " + count.get(op) + " " + op + " operations in the dry run)";
                        refusedAfterFailure += run(template, setup, history.fork(seed, setup.flushes()), overwrites,
                                op, n, forever, ctx);
                        loops.merge(op, 1L, Long::sum);
                    }
                }
            }
        }
        long total = loops.values().stream().mapToLong(Long::longValue).sum();
        System.out.println("fault loops: " + total + " runs, each failing the N-th operation of its kind for every N"
                + " a dry run counted, once and forever: " + loops + "; flushes and snapshots refused after a failed"
                + " write or fsync: " + refusedAfterFailure);
        if (!replay.replayingOne()) {
            for (Op op : KINDS) {
                long floor = op == Op.RENAME ? RENAME_FLOOR : 2L * WORKLOADS;
                assertTrue(loops.getOrDefault(op, 0L) >= floor, "the workloads made too few " + op
                        + " operations to test: " + loops);
            }
            assertTrue(total >= 2_000L * Soak.factor(), "only " + total + " fault runs");
            assertTrue(refusedAfterFailure >= 1_000L * Soak.factor(), "only " + refusedAfterFailure
                    + " refusals after a failed write or fsync were checked");
        }
    }

    /** A store with a history: writes over writes, so that collecting it finds work. */
    private static CrashableStorage template(Setup setup, Workload history) throws IOException {
        CrashableStorage disk = MemoryStores.fresh(setup);
        Store store = Store.open(ROOT, setup.options(disk));
        for (int i = 0; i < HISTORY_STEPS; i++) {
            history.step(store);
        }
        history.closing();
        store.close();
        history.closed();
        return disk.crashLosingUnsynced();
    }

    /**
     * The workload: its steps, then a collection. With {@code overwrites}, every volume is
     * written whole that many times first, so that the collection finds dead data segments to
     * delete and (under a size limit, where it deletes them before it compacts) their files to
     * reuse, renamed, for what it moves.
     */
    private static void steps(Workload w, Store store, int overwrites) throws IOException {
        for (int i = 0; i < STEPS; i++) {
            w.step(store);
        }
        for (int i = 0; i < overwrites; i++) {
            w.overwriteAll(store);
        }
        w.collect(store);
    }

    /** Operations of each kind the workload makes, from opening the store to closing it. */
    private static Map<Op, Long> dryRun(CrashableStorage template, Setup setup, Workload history, long seed,
                                        int overwrites) throws IOException {
        CrashableStorage disk = template.crashLosingUnsynced();
        Workload w = history.fork(seed, setup.flushes());
        Map<Op, Long> before = new EnumMap<>(Op.class);
        for (Op op : Op.values()) {
            before.put(op, disk.operations(op));
        }
        try (Store store = Store.open(ROOT, setup.options(disk))) {
            steps(w, store, overwrites);
        }
        Map<Op, Long> count = new EnumMap<>(Op.class);
        for (Op op : Op.values()) {
            count.put(op, disk.operations(op) - before.get(op));
        }
        return count;
    }

    /**
     * The workload with the n-th operation of its kind failing; returns how many flushes and
     * snapshots the failed store was seen to refuse.
     */
    private static int run(CrashableStorage template, Setup setup, Workload w, int overwrites, Op op, long n,
                           boolean forever, String ctx) throws IOException {
        CrashableStorage disk = template.crashLosingUnsynced();
        disk.failAt(op, n, forever, false);
        boolean failed = false;
        int refused = 0;
        Store store = null;
        try {
            store = Store.open(ROOT, setup.options(disk));
        } catch (IOException e) {
            failed = true; // the fault came while opening: the store is as it was
        }
        if (store != null) {
            try {
                steps(w, store, overwrites);
            } catch (IOException e) {
                failed = true;
                if (e instanceof StoreFailedException || op == Op.WRITE || op == Op.FORCE) {
                    refused = nothingMoreIsAcknowledged(store, w, e, ctx + ", failed with " + e);
                }
            }
            w.closing();
            try {
                store.close();
                if (!failed) {
                    w.closed();
                }
            } catch (IOException e) {
                failed = true;
            }
        }
        if (!failed) {
            throw new AssertionError(ctx + ": the fault was swallowed; the workload ran and closed as if nothing had"
                    + " failed");
        }
        disk.failAt(op, Long.MAX_VALUE / 2, false, false);
        MemoryStores.recoverAndCheck(disk.crash(new Random(n)), setup, w, ctx, true);
        return refused;
    }

    /**
     * After a failed write or fsync: another write (which may be refused too), then three
     * flushes and a snapshot, each of which must be refused as a failed store's.
     */
    private static int nothingMoreIsAcknowledged(Store store, Workload w, IOException failure, String ctx) {
        try {
            w.writeAndFlushAfterFailure(store);
        } catch (IOException refusedToo) {
            // a failed store may refuse writes as well
        }
        int refused = 0;
        for (int i = 0; i < 4; i++) {
            try {
                if (i < 3) {
                    store.flush();
                } else {
                    store.snapshot(Workload.VOLUMES[0], "after-failure", Map.of());
                }
                throw new AssertionError(ctx + ": " + (i < 3 ? "flush " + (i + 1) : "a snapshot")
                        + " after the failure was acknowledged", failure);
            } catch (IOException expected) {
                // refused: as a failed store's, or (a fault that stays) failing again
                refused++;
            }
        }
        return refused;
    }
}
