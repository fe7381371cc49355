package dev.varve.engine;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** STUB: signatures only, bodies in progress. */
public final class Store implements AutoCloseable {
    /** Creates a new, empty store in {@code dir} (created if missing; must be empty). */
    public static Store create(Path dir) throws IOException { return create(dir, StoreOptions.defaults()); }
    public static Store create(Path dir, StoreOptions options) throws IOException { throw new UnsupportedOperationException("in progress"); }
    /** Opens an existing store, rolling forward to its last complete commit. */
    public static Store open(Path dir) throws IOException { return open(dir, StoreOptions.defaults()); }
    public static Store open(Path dir, StoreOptions options) throws IOException { throw new UnsupportedOperationException("in progress"); }
    /** True when {@code dir} holds a Varve store. */
    public static boolean isStore(Path dir) { throw new UnsupportedOperationException("in progress"); }
    public Path directory() { throw new UnsupportedOperationException("in progress"); }
    public boolean readOnly() { throw new UnsupportedOperationException("in progress"); }
    public Volume createVolume(String name, long sizeBytes) throws IOException { throw new UnsupportedOperationException("in progress"); }
    public Volume createVolume(String name, long sizeBytes, int blockSize) throws IOException { throw new UnsupportedOperationException("in progress"); }
    public Volume volume(String name) throws IOException { throw new UnsupportedOperationException("in progress"); }
    /** A volume head ("vm1") or a read-only snapshot ("vm1@before-upgrade"). */
    public BlockDevice device(String spec) throws IOException { throw new UnsupportedOperationException("in progress"); }
    public BlockDevice snapshotDevice(String volume, String snapshot) throws IOException { throw new UnsupportedOperationException("in progress"); }
    public List<VolumeInfo> volumes() { throw new UnsupportedOperationException("in progress"); }
    public VolumeInfo volumeInfo(String name) throws IOException { throw new UnsupportedOperationException("in progress"); }
    public void resizeVolume(String name, long newSize) throws IOException { throw new UnsupportedOperationException("in progress"); }
    public void renameVolume(String name, String newName) throws IOException { throw new UnsupportedOperationException("in progress"); }
    /** Destroys a volume; with snapshots it needs recursive=true (HasSnapshotsException lists them). */
    public void destroyVolume(String name, boolean recursive) throws IOException { throw new UnsupportedOperationException("in progress"); }
    public SnapshotInfo snapshot(String volume, String snapshot, Map<String, String> properties) throws IOException { throw new UnsupportedOperationException("in progress"); }
    /** Snapshots several volumes atomically (one commit); every snapshot is named {@code group}. */
    public List<SnapshotInfo> snapshotGroup(String group, List<String> volumes, Map<String, String> properties) throws IOException { throw new UnsupportedOperationException("in progress"); }
    /** Volume head becomes the snapshot's root; every snapshot stays. keepCurrent (nullable) snapshots the head first. */
    public void revert(String volume, String snapshot, String keepCurrent) throws IOException { throw new UnsupportedOperationException("in progress"); }
    /** Reverts every volume of a group snapshot in one commit. */
    public void revertGroup(String group) throws IOException { throw new UnsupportedOperationException("in progress"); }
    public Volume clone(String volume, String snapshot, String newVolume) throws IOException { throw new UnsupportedOperationException("in progress"); }
    public void destroySnapshot(String volume, String snapshot) throws IOException { throw new UnsupportedOperationException("in progress"); }
    public void renameSnapshot(String volume, String snapshot, String newName) throws IOException { throw new UnsupportedOperationException("in progress"); }
    public SnapshotInfo snapshotInfo(String volume, String snapshot) throws IOException { throw new UnsupportedOperationException("in progress"); }
    public List<SnapshotInfo> snapshots(String volume) throws IOException { throw new UnsupportedOperationException("in progress"); }
    public List<SnapshotInfo> snapshots() { throw new UnsupportedOperationException("in progress"); }
    /** Properties of "VOL" or "VOL@SNAP". */
    public Map<String, String> properties(String spec) throws IOException { throw new UnsupportedOperationException("in progress"); }
    public void setProperty(String spec, String key, String value) throws IOException { throw new UnsupportedOperationException("in progress"); }
    public void flush() throws IOException { throw new UnsupportedOperationException("in progress"); }
    public StoreInfo info() throws IOException { throw new UnsupportedOperationException("in progress"); }
    public void close() throws IOException { throw new UnsupportedOperationException("in progress"); }
}
