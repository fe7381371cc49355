package dev.varve.nbd;

import dev.varve.engine.BlockDevice;
import dev.varve.engine.NoSuchSnapshotException;
import dev.varve.engine.NoSuchVolumeException;
import dev.varve.engine.SnapshotInfo;
import dev.varve.engine.Store;
import dev.varve.engine.VolumeInfo;
import dev.varve.engine.stream.StreamLayout;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The names a store is served under: every volume read-write by its name, every snapshot
 * read-only as {@code VOLUME@SNAP}, and the empty name for the only volume of a store that
 * has exactly one (so {@code nbd://host/} works).
 */
final class Exports {
    private final Store store;
    private final boolean readOnly;

    /** One entry of an export listing. */
    record Entry(String name, String description) {
    }

    Exports(Store store, boolean readOnly) {
        this.store = store;
        this.readOnly = readOnly;
    }

    /**
     * The export of that name, or null when there is none (the engine does not open the volume
     * a resumable receive builds, {@code %recv-NAME}, by name).
     */
    Export resolve(String name) throws IOException {
        try {
            if (name.isEmpty()) {
                List<VolumeInfo> vs = exported(store.volumes());
                return vs.size() == 1 ? resolve(vs.get(0).name()) : null;
            }
            int at = name.indexOf('@');
            if (at < 0) {
                BlockDevice d = store.volume(name);
                return new Export(name, name, d, readOnly || d.readOnly(), describe(store.volumeInfo(name)));
            }
            String volume = name.substring(0, at);
            String snap = name.substring(at + 1);
            if (volume.isEmpty() || snap.isEmpty() || snap.indexOf('@') >= 0) {
                return null;
            }
            BlockDevice d = store.snapshotDevice(volume, snap);
            return new Export(name, volume, d, true, describe(store.snapshotInfo(volume, snap)));
        } catch (NoSuchVolumeException | NoSuchSnapshotException | IllegalArgumentException e) {
            return null;
        }
    }

    /** Every export, volumes first, each followed by its snapshots. */
    List<Entry> list() throws IOException {
        List<Entry> out = new ArrayList<>();
        List<SnapshotInfo> snaps = store.snapshots();
        for (VolumeInfo v : exported(store.volumes())) {
            out.add(new Entry(v.name(), describe(v)));
            for (SnapshotInfo s : snaps) {
                if (s.volume().equals(v.name())) {
                    out.add(new Entry(s.fullName(), describe(s)));
                }
            }
        }
        return out;
    }

    /** The volumes that are exports: all but those a resumable receive is building. */
    private static List<VolumeInfo> exported(List<VolumeInfo> volumes) {
        List<VolumeInfo> out = new ArrayList<>();
        for (VolumeInfo v : volumes) {
            if (!v.name().startsWith(StreamLayout.PARTIAL_PREFIX)) {
                out.add(v);
            }
        }
        return out;
    }

    private String describe(VolumeInfo v) {
        return "Varve volume, " + bytes(v.size()) + (readOnly || store.readOnly() ? ", read-only" : "")
                + (v.origin() == null ? "" : ", cloned from " + v.origin());
    }

    private static String describe(SnapshotInfo s) {
        return "Varve snapshot of " + s.volume() + ", " + bytes(s.size()) + ", taken "
                + Instant.ofEpochMilli(s.createdMillis()) + ", read-only";
    }

    private static String bytes(long n) {
        String[] units = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        int u = 0;
        long v = n;
        while (v >= 1024 && v % 1024 == 0 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return v + " " + units[u];
    }

}
