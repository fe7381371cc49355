package dev.varve.proptest;

import static dev.varve.proptest.MemoryStores.ROOT;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.varve.engine.Store;
import dev.varve.engine.io.CrashableStorage;
import dev.varve.proptest.MemoryStores.Setup;
import java.io.IOException;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Power cuts against a store on {@link CrashableStorage}, checked against the model in
 * {@link Workload}: no acknowledged flush or snapshot is ever lost, every unflushed block holds
 * its old or a new content (never a mix, never another block's), no snapshot appears that was
 * not asked for, and fsck finds the recovered image clean.
 *
 * <p>Each epoch opens the store, runs a few random steps and cuts the power at one of the
 * changing operations (write, fsync, create, rename, delete, directory sync) those steps make,
 * as a dry run of the same steps on a copy of the disk numbers them: seven times in eight at
 * one that finds unsynced writes outstanding, else at any. The image keeps the synced bytes
 * and a random share of the unsynced sectors, torn and reordered. Only cuts with unsynced writes
 * outstanding count towards the total. Every recovery that changes the disk (replaying intent
 * records, writing the superblock) is done a second time on the same image, cut at one of the
 * operations the first made, and what that leaves is recovered and checked. Rounds differ in their flushes (small ones carry their data in intent
 * records, large ones force data segments), in the intent log being off, and, one round in
 * four, in a commit timer and a dirty-data limit that commit in the background.
 *
 * <p>Every recovery runs the fast fsck (everything but data checksums; the engine checks those
 * of every block the model reads back); the last image of each round gets the full one.
 * Failures name the seed and round that replay them (background commits come when they will, so
 * those rounds replay their steps, not their timing); {@code -Dvarve.soak=N} multiplies the
 * counts.
 */
class CrashTest {
    private static final int SOAK = Soak.factor();
    private static final int ROUNDS = 2_300;
    private static final int EPOCHS = 10;
    private static final int MAX_STEPS = 8;
    private static final int CUTS = 20_000;

    /** What the cuts did, for the floors and the printout. */
    private static final class Counts {
        long cuts;
        long cutsWithUnsynced;
        long cutsWithUnsyncedBackground;
        long cutsAfterTheRun;
        long recoveryCuts;
        long recoveryCutsWithUnsynced;
        long cutInSmallFlush;
        long cutInLargeFlush;
    }

    /** A round's store options and flushes, drawn from its seed. */
    private static Setup setup(int round, Random r) {
        Workload.Flushes f = Workload.Flushes.values()[r.nextInt(3)];
        if (round % 4 == 3) {
            return new Setup(f, 1 + r.nextInt(3), (32 << 10) << r.nextInt(4), true);
        }
        return new Setup(f, 0, Long.MAX_VALUE, r.nextInt(6) != 0);
    }

    @Test
    void powerCutsNeverLoseAcknowledgedWork() throws IOException {
        Replay replay = Replay.start("CrashTest.powerCutsNeverLoseAcknowledgedWork");
        long start = System.nanoTime();
        Counts c = new Counts();
        for (int round = 0; round < ROUNDS * SOAK; round++) {
            if (!replay.runs(round)) {
                continue;
            }
            Random r = new Random(replay.seed(round));
            Setup setup = setup(round, r);
            Workload w = setup.workload(r.nextLong());
            CrashableStorage disk = MemoryStores.fresh(setup);
            for (int epoch = 0; epoch < EPOCHS; epoch++) {
                disk = epoch(disk, w, setup, r, c, replay.of(round) + " epoch " + epoch + " (" + setup + ")");
            }
            MemoryStores.recoverAndCheck(disk, setup, w, replay.of(round) + " at the end (" + setup + ")");
        }
        System.out.printf("power cuts: %d, %d of them with unsynced writes outstanding (%d with a commit timer and a"
                        + " dirty limit), %d after the run's last step, %d in a flush of at most 64 KiB, %d in a larger"
                        + " one; %d cuts during recovery, %d with unsynced writes (%.0f s)%n", c.cuts, c.cutsWithUnsynced,
                c.cutsWithUnsyncedBackground, c.cutsAfterTheRun, c.cutInSmallFlush, c.cutInLargeFlush, c.recoveryCuts,
                c.recoveryCutsWithUnsynced, (System.nanoTime() - start) / 1e9);
        if (!replay.replayingOne()) {
            assertTrue(c.cutsWithUnsynced >= (long) CUTS * SOAK, "only " + c.cutsWithUnsynced
                    + " power cuts found unsynced writes outstanding");
            assertTrue(c.cutsWithUnsyncedBackground >= CUTS / 5 * SOAK, "only " + c.cutsWithUnsyncedBackground
                    + " of them in rounds with a commit timer and a dirty limit");
            assertTrue(c.recoveryCutsWithUnsynced >= 1_000L * SOAK, "only " + c.recoveryCutsWithUnsynced
                    + " cuts during recovery found unsynced writes outstanding");
            assertTrue(c.cutInSmallFlush >= 1_500L * SOAK && c.cutInLargeFlush >= 400L * SOAK,
                    "cuts in flushes: " + c.cutInSmallFlush + " small, " + c.cutInLargeFlush + " large");
        }
    }

    /** One epoch: the dry run, the run cut at one of its operations, perhaps a cut recovery, the check. */
    private static CrashableStorage epoch(CrashableStorage disk, Workload w, Setup setup, Random r, Counts c,
                                          String ctx) {
        long stepsSeed = r.nextLong();
        int steps = 1 + r.nextInt(MAX_STEPS);
        long[] ops = dryRun(disk, w.fork(stepsSeed), steps, setup);
        w.random = new Random(stepsSeed);
        PowerCutStorage cutter = new PowerCutStorage(disk);
        Store store;
        try {
            store = Store.open(ROOT, setup.options(cutter));
        } catch (IOException e) {
            throw new AssertionError(ctx + ": the store did not open: " + e, e);
        }
        cutter.cutAt(pick(ops, r));
        try {
            for (int i = 0; i < steps; i++) {
                cutter.note("step " + i);
                w.step(store);
            }
        } catch (IOException e) {
            if (!cutter.wasCut()) {
                throw new AssertionError(ctx + ": a step failed with the power still on: " + e, e);
            }
        }
        if (!cutter.wasCut()) {
            // the steps made fewer changes than the dry run (background commits run when they will)
            c.cutsAfterTheRun++;
            cutter.cutNow();
        }
        try {
            store.close(); // stops the store's threads; nothing reaches the disk any more
        } catch (IOException expected) {
            // the power is gone
        }
        c.cuts++;
        if (cutter.unsyncedAtCut()) {
            c.cutsWithUnsynced++;
            if (setup.background()) {
                c.cutsWithUnsyncedBackground++;
            }
        }
        if (w.flushInFlight > Workload.INLINE_LIMIT) {
            c.cutInLargeFlush++;
        } else if (w.flushInFlight > 0) {
            c.cutInSmallFlush++;
        }
        // the same seed makes the same image again, for a second cut while it recovers
        long imageSeed = r.nextLong();
        CrashableStorage image = disk.crash(new Random(imageSeed));
        Workload before = w.copy();
        long[] opening;
        try {
            opening = MemoryStores.recoverAndCheck(new PowerCutStorage(image), setup, w, ctx, true);
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "\nthe cut run's last operations:\n" + cutter.trace(), e);
        }
        if (opening[0] > 0) {
            cutDuringRecovery(disk.crash(new Random(imageSeed)), opening, setup, before, r, c, ctx);
        }
        return image;
    }

    /**
     * Where to cut: seven times in eight at one of the operations that found unsynced writes
     * outstanding, else at any (a cut that finds everything synced tests that the synced state
     * alone recovers).
     *
     * @param ops the dry run's operation count, then the operations that found unsynced writes
     */
    private static long pick(long[] ops, Random r) {
        if (ops.length > 1 && r.nextInt(8) != 0) {
            return ops[1 + r.nextInt(ops.length - 1)];
        }
        return 1 + (long) (r.nextDouble() * Math.max(1, ops[0]));
    }

    /**
     * The changing operations the steps make from a store freshly opened on a copy of the disk:
     * their count, then the ones that found unsynced writes outstanding.
     */
    private static long[] dryRun(CrashableStorage disk, Workload w, int steps, Setup setup) {
        CrashableStorage copy = disk.crashLosingUnsynced();
        PowerCutStorage counter = new PowerCutStorage(copy);
        long[] ops = {1};
        Store store = null;
        try {
            store = Store.open(ROOT, setup.options(counter));
            long from = counter.mutations();
            try {
                for (int i = 0; i < steps; i++) {
                    w.step(store);
                }
            } catch (IOException e) {
                // the real run meets it too, and says so
            }
            ops = MemoryStores.operations(counter, from);
        } catch (IOException e) {
            // the real run's open meets it too
        }
        copy.powerOff();
        if (store != null) {
            try {
                store.close();
            } catch (IOException expected) {
                // the copy is switched off
            }
        }
        return ops;
    }

    /**
     * Opens a second copy of an image whose recovery changed the disk, with the power cut at one
     * of the changing operations that recovery made, and recovers and checks what that cut
     * leaves, against the model as it was before the first recovery.
     */
    private static void cutDuringRecovery(CrashableStorage image, long[] opening, Setup setup, Workload w, Random r,
                                          Counts c, String ctx) {
        PowerCutStorage cutter = new PowerCutStorage(image);
        cutter.cutAt(pick(opening, r));
        try {
            Store s = Store.open(ROOT, setup.options(cutter));
            cutter.cutNow(); // it opened with fewer changes than the first recovery made
            try {
                s.close();
            } catch (IOException expected) {
                // switched off
            }
        } catch (IOException expected) {
            // cut while recovering
        }
        c.recoveryCuts++;
        if (cutter.unsyncedAtCut()) {
            c.recoveryCutsWithUnsynced++;
        }
        try {
            MemoryStores.recoverAndCheck(image.crash(r), setup, w, ctx + ", recovery cut", true);
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "\nthe cut recovery's last operations:\n" + cutter.trace(), e);
        }
    }
}
