package dev.varve.engine;

import dev.varve.engine.io.FileStorage;
import dev.varve.engine.io.Storage;
import java.nio.file.Path;
import java.util.function.Function;

/**
 * How a store is opened. Immutable; each {@code withX} returns a copy.
 *
 * @param segmentSize      bytes per segment file (default 64 MiB)
 * @param nodeCacheBytes   bound on decoded tree nodes kept in memory (default 64 MiB)
 * @param commitIntervalMillis the timer that commits dirty state (default 5 s; 0 = no timer)
 * @param dirtyBytesLimit  data written since the last commit that forces a commit (default 256 MiB)
 * @param readOnly         open without writing anything (fsck, export)
 * @param storageFactory   the file layer (tests put crashable and faulty storages here)
 */
public record StoreOptions(long segmentSize, long nodeCacheBytes, long commitIntervalMillis,
                           long dirtyBytesLimit, boolean readOnly,
                           Function<Path, Storage> storageFactory) {

    public static final long DEFAULT_SEGMENT_SIZE = 64L << 20;

    public static StoreOptions defaults() {
        return new StoreOptions(DEFAULT_SEGMENT_SIZE, 64L << 20, 5000, 256L << 20, false, FileStorage::new);
    }

    public StoreOptions withSegmentSize(long v) {
        return new StoreOptions(v, nodeCacheBytes, commitIntervalMillis, dirtyBytesLimit, readOnly, storageFactory);
    }

    public StoreOptions withNodeCacheBytes(long v) {
        return new StoreOptions(segmentSize, v, commitIntervalMillis, dirtyBytesLimit, readOnly, storageFactory);
    }

    public StoreOptions withCommitIntervalMillis(long v) {
        return new StoreOptions(segmentSize, nodeCacheBytes, v, dirtyBytesLimit, readOnly, storageFactory);
    }

    public StoreOptions withDirtyBytesLimit(long v) {
        return new StoreOptions(segmentSize, nodeCacheBytes, commitIntervalMillis, v, readOnly, storageFactory);
    }

    public StoreOptions withReadOnly(boolean v) {
        return new StoreOptions(segmentSize, nodeCacheBytes, commitIntervalMillis, dirtyBytesLimit, v, storageFactory);
    }

    public StoreOptions withStorage(Function<Path, Storage> v) {
        return new StoreOptions(segmentSize, nodeCacheBytes, commitIntervalMillis, dirtyBytesLimit, readOnly, v);
    }
}
