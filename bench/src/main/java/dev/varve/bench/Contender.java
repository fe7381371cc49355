package dev.varve.bench;

import dev.varve.engine.Store;
import dev.varve.engine.Volume;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A disk with snapshots, driven the same way for each design: Varve through its Java API, the
 * file-per-delta baseline through its own. qcow2 is driven through QEMU's tools instead
 * ({@link Qemu}), since its real implementation lives there.
 */
interface Contender extends BlockIo {
    String VARVE = "varve";
    String FILE_PER_DELTA = "file-per-delta";

    void snapshot(String snap) throws IOException;

    /** The disk becomes the snapshot's content; later snapshots stay. */
    void revert(String snap) throws IOException;

    void deleteSnapshot(String snap) throws IOException;

    /** A new writable disk on a snapshot. */
    void cloneDisk(String snap, String clone) throws IOException;

    void destroyClone(String clone) throws IOException;

    /** Closes and opens again (what a restart of the hypervisor does). */
    void reopen() throws IOException;

    static Contender create(String kind, Path dir, long size) throws IOException {
        return switch (kind) {
            case VARVE -> VarveDisk.create(dir, size);
            case FILE_PER_DELTA -> new DeltaDisk(dir, FilePerDelta.create(dir, size));
            default -> throw new IllegalArgumentException("no contender " + kind);
        };
    }

    static Contender open(String kind, Path dir) throws IOException {
        return switch (kind) {
            case VARVE -> VarveDisk.open(dir);
            case FILE_PER_DELTA -> new DeltaDisk(dir, FilePerDelta.open(dir));
            default -> throw new IllegalArgumentException("no contender " + kind);
        };
    }

    static List<Path> filesUnder(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).toList();
        }
    }

    /** Varve: one store, one volume named "disk". */
    final class VarveDisk implements Contender {
        static final String VOLUME = "disk";
        private final Path dir;
        private Store store;
        private Volume volume;

        private VarveDisk(Path dir, Store store, Volume volume) {
            this.dir = dir;
            this.store = store;
            this.volume = volume;
        }

        static VarveDisk create(Path dir, long size) throws IOException {
            Store s = Store.create(dir);
            try {
                return new VarveDisk(dir, s, s.createVolume(VOLUME, size));
            } catch (IOException | RuntimeException e) {
                s.close();
                throw e;
            }
        }

        static VarveDisk open(Path dir) throws IOException {
            Store s = Store.open(dir);
            return new VarveDisk(dir, s, s.volume(VOLUME));
        }

        Store store() {
            return store;
        }

        @Override
        public String name() {
            return VARVE;
        }

        @Override
        public void write(long offset, ByteBuffer src) throws IOException {
            volume.write(offset, src);
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
            volume.read(offset, dst);
        }

        @Override
        public void flush() throws IOException {
            volume.flush();
        }

        @Override
        public void snapshot(String snap) throws IOException {
            store.snapshot(VOLUME, snap, Map.of());
        }

        @Override
        public void revert(String snap) throws IOException {
            store.revert(VOLUME, snap, null);
        }

        @Override
        public void deleteSnapshot(String snap) throws IOException {
            store.destroySnapshot(VOLUME, snap);
        }

        @Override
        public void cloneDisk(String snap, String clone) throws IOException {
            store.clone(VOLUME, snap, clone);
        }

        @Override
        public void destroyClone(String clone) throws IOException {
            store.destroyVolume(clone, false);
        }

        @Override
        public void reopen() throws IOException {
            store.close();
            store = Store.open(dir);
            volume = store.volume(VOLUME);
        }

        @Override
        public List<Path> files() throws IOException {
            return filesUnder(dir);
        }

        @Override
        public void close() throws IOException {
            store.close();
        }
    }

    /** The file-per-delta baseline: one head named "disk". */
    final class DeltaDisk implements Contender {
        private final Path dir;
        private FilePerDelta fpd;
        private FilePerDelta.Disk disk;

        DeltaDisk(Path dir, FilePerDelta fpd) throws IOException {
            this.dir = dir;
            this.fpd = fpd;
            this.disk = fpd.disk(FilePerDelta.DEFAULT_HEAD);
        }

        FilePerDelta fpd() {
            return fpd;
        }

        @Override
        public String name() {
            return FILE_PER_DELTA;
        }

        @Override
        public void write(long offset, ByteBuffer src) throws IOException {
            disk.write(offset, src);
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
            disk.read(offset, dst);
        }

        @Override
        public void flush() throws IOException {
            disk.flush();
        }

        @Override
        public void snapshot(String snap) throws IOException {
            fpd.snapshot(FilePerDelta.DEFAULT_HEAD, snap);
        }

        @Override
        public void revert(String snap) throws IOException {
            fpd.revert(FilePerDelta.DEFAULT_HEAD, snap);
        }

        @Override
        public void deleteSnapshot(String snap) throws IOException {
            fpd.deleteSnapshot(snap);
        }

        @Override
        public void cloneDisk(String snap, String clone) throws IOException {
            fpd.clone(snap, clone);
        }

        @Override
        public void destroyClone(String clone) throws IOException {
            fpd.destroy(clone);
        }

        @Override
        public void reopen() throws IOException {
            fpd.close();
            fpd = FilePerDelta.open(dir);
            disk = fpd.disk(FilePerDelta.DEFAULT_HEAD);
        }

        @Override
        public List<Path> files() throws IOException {
            return filesUnder(dir);
        }

        @Override
        public void close() throws IOException {
            fpd.close();
        }
    }
}
