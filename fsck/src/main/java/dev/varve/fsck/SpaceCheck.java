package dev.varve.fsck;

import dev.varve.engine.SpaceInfo;
import dev.varve.engine.Store;
import dev.varve.engine.StoreOptions;
import dev.varve.engine.io.ForwardingStorage;
import dev.varve.engine.io.Storage;
import dev.varve.engine.io.StorageFile;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.AccessDeniedException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Space accounting. The store persists none: the engine computes each volume's and snapshot's
 * space from its tree when asked ({@link Store#space()}). So fsck recomputes the referenced bytes
 * of every tree it walks whole ({@link Report#space()}), and on a store it found without errors
 * opens it read-only, through a storage that refuses every change, and compares the engine's
 * figures with its own: a difference is a bug in one of the two walks, reported as a
 * {@code space-accounting} error.
 */
final class SpaceCheck {
    /** Where the engine's figures come from (tests substitute their own). */
    interface EngineSpace {
        List<SpaceInfo> space(Storage storage) throws IOException;
    }

    /** The engine's own accounting, from the store opened read-only. */
    static final EngineSpace ENGINE = storage -> {
        Storage guarded = new Unwritable(storage);
        try (Store s = Store.open(storage.root(), StoreOptions.defaults().withReadOnly(true).withStorage(p -> guarded))) {
            return s.space();
        }
    };

    private SpaceCheck() {
    }

    /** Compares {@code r}'s recomputed figures with the engine's; adds what differs (or why it could not) to {@code r}. */
    static void crossCheck(Report r, Storage storage, EngineSpace engine) {
        if (!r.clean() || r.space.isEmpty()) {
            return; // a damaged store's trees are not what the engine would read
        }
        List<SpaceInfo> theirs;
        try {
            theirs = engine.space(storage);
        } catch (IOException | RuntimeException e) {
            if (e instanceof IOException && !(e instanceof dev.varve.engine.CorruptionException)) {
                // the storage failed, as it can mid-scan: the check did not run to its end
                r.aborted = true;
                r.error("check-aborted", 0, -1, Survey.abortMessage(e), (String) null);
                return;
            }
            r.warning("space-accounting", 0, -1, "the space fsck recomputed from the trees could not be compared with the"
                    + " engine's: the store did not open read-only (" + e + ")");
            return;
        }
        Map<String, SpaceInfo> byName = new HashMap<>();
        for (SpaceInfo i : theirs) {
            byName.put(i.name(), i);
        }
        for (Report.Space mine : r.space) {
            SpaceInfo e = byName.get(mine.name());
            if (e == null) {
                r.error("space-accounting", 0, -1, "fsck finds " + mine.name() + " in the catalog (" + mine.referenced()
                        + " bytes referenced), but the engine's space accounting does not list it", List.of(
                        new Problem.Affected(mine.name(), -1, -1)));
            } else if (e.referenced() != mine.referenced() || e.logical() != mine.logical()) {
                r.error("space-accounting", 0, -1, "the engine counts " + e.referenced() + " bytes referenced by "
                        + mine.name() + " (size " + e.logical() + "), but its tree maps " + mine.referenced() + " bytes (size "
                        + mine.logical() + "): 'varve list' shows wrong figures for it; report this as a bug",
                        List.of(new Problem.Affected(mine.name(), -1, -1)));
            }
        }
        r.spaceCrossChecked = true;
    }

    /** A storage that reads and refuses every change, and takes no lock (the check holds one, or needs none). */
    private static final class Unwritable extends ForwardingStorage {
        Unwritable(Storage s) {
            super(s);
        }

        private IOException refused(String name) {
            return new AccessDeniedException(delegate.path(name).toString(), null, "fsck opened the store read-only");
        }

        @Override
        public StorageFile open(String name, boolean create) throws IOException {
            if (create && !delegate.exists(name)) {
                throw refused(name);
            }
            return new ForwardingStorage.File(delegate.open(name, false)) {
                @Override
                public void write(ByteBuffer src, long position) throws IOException {
                    throw refused(name);
                }

                @Override
                public void force() {
                    // nothing was written
                }

                @Override
                public void truncate(long size) throws IOException {
                    throw refused(name);
                }
            };
        }

        @Override
        public void delete(String name) throws IOException {
            throw refused(name);
        }

        @Override
        public void rename(String from, String to) throws IOException {
            throw refused(from);
        }

        @Override
        public void syncDirectory() {
            // nothing was created
        }

        @Override
        public Closeable tryLock(String name) {
            return () -> { };
        }

        @Override
        public void createRoot() throws IOException {
            throw refused(".");
        }
    }
}
