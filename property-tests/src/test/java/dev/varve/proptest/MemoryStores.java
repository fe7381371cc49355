package dev.varve.proptest;

import dev.varve.engine.Store;
import dev.varve.engine.StoreOptions;
import dev.varve.engine.io.CrashableStorage;
import dev.varve.engine.io.Storage;
import dev.varve.fsck.Fsck;
import dev.varve.fsck.Report;
import java.io.IOException;
import java.nio.file.Path;

/** Stores on {@link CrashableStorage} for the crash tests: how they are opened, made and checked. */
final class MemoryStores {
    static final Path ROOT = Path.of("/mem/store");

    private MemoryStores() {
    }

    /**
     * How a round's store is opened. With a commit timer or a dirty-data limit the store
     * commits unflushed writes by itself, at moments no seed fixes; the model then judges
     * block by block ({@link Workload}).
     *
     * @param commitIntervalMillis 0 for no timer
     * @param dirtyBytesLimit      {@link Long#MAX_VALUE} for none
     * @param intentLog            flushes log intent records (else each is a full commit)
     * @param maxSizeBytes         the store's size limit (0 for none); under one the collector
     *                             deletes dead segments before it compacts, and reuses their
     *                             files (renamed) for what it moves
     */
    record Setup(Workload.Flushes flushes, long commitIntervalMillis, long dirtyBytesLimit, boolean intentLog,
                 long maxSizeBytes) {
        Setup(Workload.Flushes flushes, long commitIntervalMillis, long dirtyBytesLimit, boolean intentLog) {
            this(flushes, commitIntervalMillis, dirtyBytesLimit, intentLog, 0);
        }

        static Setup plain(Workload.Flushes flushes) {
            return new Setup(flushes, 0, Long.MAX_VALUE, true);
        }

        Setup withMaxSize(long bytes) {
            return new Setup(flushes, commitIntervalMillis, dirtyBytesLimit, intentLog, bytes);
        }

        boolean background() {
            return commitIntervalMillis > 0 || dirtyBytesLimit < Long.MAX_VALUE;
        }

        StoreOptions options(Storage s) {
            return StoreOptions.defaults().withSegmentSize(1 << 20).withCommitIntervalMillis(commitIntervalMillis)
                    .withDirtyBytesLimit(dirtyBytesLimit).withIntentLog(intentLog).withNodeCacheBytes(1 << 20)
                    .withGcIntervalMillis(0).withMaxSizeBytes(maxSizeBytes).withStorage(p -> s);
        }

        Workload workload(long seed) {
            return new Workload(seed, flushes, background());
        }

        @Override
        public String toString() {
            return flushes.name().toLowerCase() + " flushes" + (intentLog ? "" : ", no intent log")
                    + (commitIntervalMillis > 0 ? ", commit every " + commitIntervalMillis + " ms" : "")
                    + (dirtyBytesLimit < Long.MAX_VALUE ? ", dirty limit " + dirtyBytesLimit / 1024 + " KiB" : "")
                    + (maxSizeBytes > 0 ? ", limited to " + (maxSizeBytes >> 20) + " MiB" : "");
        }
    }

    /** A new store holding the workload's volumes, closed. */
    static CrashableStorage fresh(Setup setup) throws IOException {
        CrashableStorage s = new CrashableStorage(ROOT);
        try (Store store = Store.create(ROOT, setup.options(s))) {
            Workload.setUp(store);
        }
        return s;
    }

    /**
     * Opens the image left by a failure, checks it against the model, takes what it shows as
     * the model's new durable state, closes it and runs fsck on it.
     */
    static void recoverAndCheck(CrashableStorage image, Setup setup, Workload w, String context) {
        recoverAndCheck(image, setup, w, context, false);
    }

    /**
     * As above; a fast fsck checks everything but the data blocks' checksums (the engine checks
     * those of every block the model reads back).
     */
    static void recoverAndCheck(CrashableStorage image, Setup setup, Workload w, String context, boolean fast) {
        recoverAndCheck(new PowerCutStorage(image), setup, w, context, fast);
    }

    /**
     * As above, on an image seen through a counter that is never cut.
     *
     * @return the changing operations opening the image made (see {@link #operations})
     */
    static long[] recoverAndCheck(PowerCutStorage counter, Setup setup, Workload w, String context, boolean fast) {
        CrashableStorage image = counter.disk();
        long[] opening;
        try (Store store = Store.open(ROOT, setup.options(counter))) {
            opening = operations(counter, 0);
            String bad = w.verify(store);
            if (bad != null) {
                throw new AssertionError(context + ": " + bad + "; steps since the last recovery: " + w.trail);
            }
            w.settle(store);
        } catch (IOException e) {
            throw new AssertionError(context + ": the store did not open, or not close, after the failure: " + e, e);
        }
        Report r = Fsck.check(image, fast);
        if (!r.clean()) {
            throw new AssertionError(context + ": fsck" + (fast ? " (fast)" : "") + " after recovery:\n" + r.summary());
        }
        return opening;
    }

    /**
     * The changing operations a counter saw after the {@code from}-th: their count, then the
     * ones that found unsynced writes outstanding, numbered as {@link PowerCutStorage#cutAt} counts.
     */
    static long[] operations(PowerCutStorage counter, long from) {
        long[] unsynced = counter.unsyncedOperationsAfter(from);
        long[] ops = new long[unsynced.length + 1];
        ops[0] = counter.mutations() - from;
        System.arraycopy(unsynced, 0, ops, 1, unsynced.length);
        return ops;
    }
}
