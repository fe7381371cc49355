package dev.varve.proptest;

import static dev.varve.proptest.MemoryStores.ROOT;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.OutOfSpaceException;
import dev.varve.engine.SnapshotInfo;
import dev.varve.engine.Store;
import dev.varve.engine.StoreOptions;
import dev.varve.engine.io.CrashableStorage;
import dev.varve.engine.io.CrashableStorage.Op;
import dev.varve.proptest.MemoryStores.Setup;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Running out of space at random points, four ways: the store's own size limit (with the reserve
 * it keeps for commits, snapshots, destroy and the collector), a disk that fills up, and one
 * write or file creation failing with ENOSPC, once or from then on.
 *
 * <p>Every round must be refused; the refusal must carry an {@link OutOfSpaceException}. Then,
 * with the space still gone (and after a power cut), the store opens at its last commit with
 * nothing acknowledged lost; under its size limit it still takes a snapshot, destroys snapshots
 * and collects, after which writes go through again. With the space back, it takes writes again
 * and fsck finds it clean.
 */
class OutOfSpaceTest {
    private static final int ROUNDS = 40 * Soak.factor();
    private static final int MAX_STEPS = 3_000;
    /** The size limits the LIMIT rounds take in turn: the smallest a store accepts, and twice it. */
    private static final long[] LIMITS = {8L << 20, 16L << 20};

    private enum Full { LIMIT, DISK, ENOSPC_ONCE, ENOSPC_FOREVER }

    @Test
    void outOfSpaceIsClearAndLosesNothing() throws IOException {
        Replay replay = Replay.start("OutOfSpaceTest.outOfSpaceIsClearAndLosesNothing");
        int[] refused = new int[Full.values().length];
        for (int round = 0; round < ROUNDS; round++) {
            if (!replay.runs(round)) {
                continue;
            }
            Random r = new Random(replay.seed(round));
            Full how = Full.values()[round % Full.values().length];
            String ctx = replay.of(round) + " (" + how + ")";
            long limit = LIMITS[round / Full.values().length % LIMITS.length];
            round(how, limit, r, how == Full.LIMIT ? ctx + " limited to " + (limit >> 20) + " MiB" : ctx);
            refused[how.ordinal()]++;
        }
        StringBuilder s = new StringBuilder();
        for (Full f : Full.values()) {
            s.append(s.length() == 0 ? "" : ", ").append(f).append(' ').append(refused[f.ordinal()]);
        }
        System.out.println("out of space: rounds refused with an OutOfSpaceException: " + s + "; of them opened"
                + " read-only only, with the space still gone: " + readOnly);
    }

    /** Rounds whose store, with the space still gone, opened only read-only. */
    private static int readOnly;

    private static void round(Full how, long limit, Random r, String ctx) throws IOException {
        Setup setup = Setup.plain(Workload.Flushes.MIXED);
        Workload w = setup.workload(r.nextLong());
        CrashableStorage disk = MemoryStores.fresh(setup);
        StoreOptions opts = options(setup, disk, how, limit);
        long capacity = total(disk) + 1_000_000 + r.nextInt(2_000_000);
        Op failing = r.nextBoolean() ? Op.WRITE : Op.CREATE;
        long at = 1 + r.nextInt(failing == Op.WRITE ? 150 : 6);
        full(disk, how, capacity, failing, at);
        IOException refusal = null;
        int steps = 0;
        try (Store store = Store.open(ROOT, opts)) {
            for (; steps < MAX_STEPS && refusal == null; steps++) {
                try {
                    w.step(store);
                } catch (IOException e) {
                    refusal = e;
                }
            }
            w.closing();
        } catch (IOException closeFailed) {
            // a store that failed commits nothing more
        }
        if (refusal == null) {
            throw new AssertionError(ctx + ": " + steps + " steps and the space never ran out: the round tested nothing");
        }
        if (!outOfSpace(refusal)) {
            throw new AssertionError(ctx + ": the refusal after " + steps + " steps does not say the space ran out: "
                    + refusal, refusal);
        }
        // a power cut, and the space still gone
        CrashableStorage image = disk.crash(r);
        full(image, how, capacity, failing, 1);
        StoreOptions imageOpts = options(setup, image, how, limit);
        Store store;
        try {
            store = Store.open(ROOT, imageOpts);
        } catch (IOException e) {
            // writes failing with ENOSPC may keep recovery from writing the superblock, and a
            // full disk from putting a replayed flush's inline data in its place in a data
            // segment (the file grows): then a clear refusal, and a read-only open shows the
            // same state. Under a size limit that data has its place already: it must open.
            if (how == Full.LIMIT || !outOfSpace(e)) {
                throw new AssertionError(ctx + ": with the space still gone the store did not open: " + e, e);
            }
            store = null;
            readOnly++;
            try (Store ro = Store.open(ROOT, imageOpts.withReadOnly(true))) {
                check(ro, w, ctx + ": opened read-only with the space still gone");
            } catch (IOException e2) {
                throw new AssertionError(ctx + ": with the space still gone the store did not open, even read-only: "
                        + e2, e2);
            }
        }
        if (store != null) {
            try {
                check(store, w, ctx + ": reopened with the space still gone");
                if (how == Full.LIMIT) {
                    freeUnderTheLimit(store, w, ctx);
                }
            } catch (IOException e) {
                throw new AssertionError(ctx + ": with the space still gone: " + e, e);
            }
            try {
                store.close();
            } catch (IOException e) {
                // closing writes the superblock: with every write failing that may be refused,
                // clearly; nothing was changed since the open
                if (how == Full.LIMIT || how == Full.DISK || !outOfSpace(e)) {
                    throw new AssertionError(ctx + ": with the space still gone the store did not close: " + e, e);
                }
            }
        }
        // the space back
        image.capacity(Long.MAX_VALUE);
        image.failAt(Op.WRITE, Long.MAX_VALUE / 2, false, false);
        try {
            // under a limit, the space comes back as the refusal says: a larger --max-size (the
            // store keeps its limit in the superblock otherwise)
            StoreOptions back = how == Full.LIMIT ? setup.options(image).withMaxSizeBytes(1L << 40)
                    : setup.options(image);
            Store again = Store.open(ROOT, back);
            for (int i = 0; i < 5; i++) {
                w.step(again);
            }
            w.closing();
            again.close();
            w.closed();
        } catch (IOException e) {
            throw new AssertionError(ctx + ": with the space back the store did not take a write: " + e, e);
        }
        MemoryStores.recoverAndCheck(image.crash(r), setup, w, ctx + " with the space back");
    }

    private static StoreOptions options(Setup setup, CrashableStorage disk, Full how, long limit) {
        StoreOptions o = setup.options(disk);
        return how == Full.LIMIT ? o.withMaxSizeBytes(limit) : o;
    }

    private static void full(CrashableStorage disk, Full how, long capacity, Op failing, long at) {
        switch (how) {
            case DISK -> disk.capacity(capacity);
            case ENOSPC_ONCE -> disk.failAt(failing, at, false, true);
            case ENOSPC_FOREVER -> disk.failAt(failing, at, true, true);
            default -> {
                // the limit is in the options
            }
        }
    }

    private static void check(Store store, Workload w, String ctx) throws IOException {
        String bad = w.verify(store);
        if (bad != null) {
            throw new AssertionError(ctx + ": " + bad + "; steps since the last recovery: " + w.trail);
        }
        w.settle(store);
    }

    /**
     * A full store under its limit, emptied as its refusal says: destroy every snapshot and
     * collect; then a write and a snapshot go through again.
     */
    private static void freeUnderTheLimit(Store store, Workload w, String ctx) throws IOException {
        List<String> all = new ArrayList<>();
        for (SnapshotInfo s : store.snapshots()) {
            all.add(s.fullName());
        }
        for (String s : all) {
            int at = s.indexOf('@');
            store.destroySnapshot(s.substring(0, at), s.substring(at + 1));
            w.snapshots.remove(s);
        }
        store.gc(1.0);
        store.volume(Workload.VOLUMES[0]).write(0, new byte[4096], 0, 4096);
        store.snapshot(Workload.VOLUMES[0], "emptied", java.util.Map.of());
        store.destroySnapshot(Workload.VOLUMES[0], "emptied");
        w.settle(store);
    }

    private static long total(CrashableStorage disk) {
        long t = 0;
        for (String f : disk.list()) {
            t += disk.contents(f).length;
        }
        return t;
    }

    private static boolean outOfSpace(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof OutOfSpaceException) {
                return true;
            }
        }
        return false;
    }
}
