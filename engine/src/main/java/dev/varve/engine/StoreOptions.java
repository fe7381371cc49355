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
 * @param dirtyBytesLimit  data written since the last commit that forces a commit (default 1 GiB; a
 *                         background commit starts at half of it). Dirty data is not held in
 *                         memory (a flush logs it as intent records); a smaller limit only
 *                         commits more often, and every commit after random writes rewrites
 *                         every leaf they touched
 * @param readOnly         open without writing anything (fsck, export)
 * @param storageFactory   the file layer (tests put crashable and faulty storages here)
 * @param gcIntervalMillis how often the background collector looks at the store (default 30 s;
 *                         0 = only on demand, {@link Store#gc()})
 * @param gcGarbageRatio   the background collector runs when this share of the log's bytes is
 *                         garbage (default 0.25)
 * @param gcVictimUtilization a segment whose live share is below this is compacted (default 0.75)
 * @param wipeOnReclaim    overwrite a segment with zeroes before deleting it, so freed data
 *                         cannot be read back from the disk (costs a write of each reclaimed byte)
 * @param maxSizeBytes     a cap on the store's segment files (0 = only the disk's size); a
 *                         reserve under it is kept for commits, snapshots, destroy and the collector
 * @param intentLog        a flush with only volume writes pending logs them as intent records
 *                         instead of committing every changed tree (default on; off makes every
 *                         flush a full commit, as tests of the commit path want)
 * @param recycleSegments  freed data segment files the background collector keeps for reuse
 *                         instead of deleting them (default 8; 0 deletes every one). Rewriting
 *                         a file's existing blocks is cheaper for the file system than
 *                         growing a new file, and forcing it needs no journal commit. An
 *                         explicit {@link Store#gc()} and closing the store delete them.
 * @param metaFill         write fill pages ahead of the metadata log's end, so a commit's fsync
 *                         writes into blocks the file owns instead of growing it (default on;
 *                         it helps file systems that overwrite in place, such as ext4 and XFS,
 *                         and costs copy-on-write ones such as btrfs and ZFS a little)
 * @param gcDutyCycle      the share of time a collection may spend marking and copying while
 *                         volumes are being written (default 0.25; 1 never yields). It runs at
 *                         full speed when nobody writes, and is never held back under space
 *                         pressure; a lower share leaves more of the machine to the writers and
 *                         takes longer to give space back while they write
 * @param inlineFlushBytes a flush of at most this much written data copies it into its intent
 *                         records and forces the metadata segment alone, one {@code fsync}
 *                         instead of two (default 64 KiB; 0 never does). Above it, copying the
 *                         data costs more than the second {@code fsync} saves. ZFS draws the
 *                         same line at 32 KiB ({@code zfs_immediate_write_sz}). Not done while
 *                         a store with a size limit is near it, where the copy would take log
 *                         space the reserve keeps for commits and the collector
 */
public record StoreOptions(long segmentSize, long nodeCacheBytes, long commitIntervalMillis,
                           long dirtyBytesLimit, boolean readOnly,
                           Function<Path, Storage> storageFactory, long gcIntervalMillis,
                           double gcGarbageRatio, double gcVictimUtilization, boolean wipeOnReclaim,
                           long maxSizeBytes, boolean intentLog, int recycleSegments,
                           boolean metaFill, double gcDutyCycle, long inlineFlushBytes) {

    public static final long DEFAULT_SEGMENT_SIZE = 64L << 20;
    public static final int DEFAULT_RECYCLE_SEGMENTS = 8;
    public static final double DEFAULT_GC_DUTY_CYCLE = 0.25;
    public static final long DEFAULT_INLINE_FLUSH_BYTES = 64 << 10;

    public static StoreOptions defaults() {
        return new StoreOptions(DEFAULT_SEGMENT_SIZE, 64L << 20, 5000, 1L << 30, false, FileStorage::new,
                30_000, 0.25, 0.75, false, 0, true, DEFAULT_RECYCLE_SEGMENTS, true, DEFAULT_GC_DUTY_CYCLE,
                DEFAULT_INLINE_FLUSH_BYTES);
    }

    public StoreOptions withSegmentSize(long v) {
        return new StoreOptions(v, nodeCacheBytes, commitIntervalMillis, dirtyBytesLimit, readOnly, storageFactory,
                gcIntervalMillis, gcGarbageRatio, gcVictimUtilization, wipeOnReclaim, maxSizeBytes, intentLog, recycleSegments, metaFill, gcDutyCycle, inlineFlushBytes);
    }

    public StoreOptions withNodeCacheBytes(long v) {
        return new StoreOptions(segmentSize, v, commitIntervalMillis, dirtyBytesLimit, readOnly, storageFactory,
                gcIntervalMillis, gcGarbageRatio, gcVictimUtilization, wipeOnReclaim, maxSizeBytes, intentLog, recycleSegments, metaFill, gcDutyCycle, inlineFlushBytes);
    }

    public StoreOptions withCommitIntervalMillis(long v) {
        return new StoreOptions(segmentSize, nodeCacheBytes, v, dirtyBytesLimit, readOnly, storageFactory,
                gcIntervalMillis, gcGarbageRatio, gcVictimUtilization, wipeOnReclaim, maxSizeBytes, intentLog, recycleSegments, metaFill, gcDutyCycle, inlineFlushBytes);
    }

    public StoreOptions withDirtyBytesLimit(long v) {
        return new StoreOptions(segmentSize, nodeCacheBytes, commitIntervalMillis, v, readOnly, storageFactory,
                gcIntervalMillis, gcGarbageRatio, gcVictimUtilization, wipeOnReclaim, maxSizeBytes, intentLog, recycleSegments, metaFill, gcDutyCycle, inlineFlushBytes);
    }

    public StoreOptions withReadOnly(boolean v) {
        return new StoreOptions(segmentSize, nodeCacheBytes, commitIntervalMillis, dirtyBytesLimit, v, storageFactory,
                gcIntervalMillis, gcGarbageRatio, gcVictimUtilization, wipeOnReclaim, maxSizeBytes, intentLog, recycleSegments, metaFill, gcDutyCycle, inlineFlushBytes);
    }

    public StoreOptions withStorage(Function<Path, Storage> v) {
        return new StoreOptions(segmentSize, nodeCacheBytes, commitIntervalMillis, dirtyBytesLimit, readOnly, v,
                gcIntervalMillis, gcGarbageRatio, gcVictimUtilization, wipeOnReclaim, maxSizeBytes, intentLog, recycleSegments, metaFill, gcDutyCycle, inlineFlushBytes);
    }

    public StoreOptions withGcIntervalMillis(long v) {
        return new StoreOptions(segmentSize, nodeCacheBytes, commitIntervalMillis, dirtyBytesLimit, readOnly,
                storageFactory, v, gcGarbageRatio, gcVictimUtilization, wipeOnReclaim, maxSizeBytes, intentLog, recycleSegments, metaFill, gcDutyCycle, inlineFlushBytes);
    }

    public StoreOptions withGcGarbageRatio(double v) {
        if (!(v > 0 && v < 1)) {
            throw new IllegalArgumentException("gc garbage ratio must be between 0 and 1, got " + v);
        }
        return new StoreOptions(segmentSize, nodeCacheBytes, commitIntervalMillis, dirtyBytesLimit, readOnly,
                storageFactory, gcIntervalMillis, v, gcVictimUtilization, wipeOnReclaim, maxSizeBytes, intentLog, recycleSegments, metaFill, gcDutyCycle, inlineFlushBytes);
    }

    public StoreOptions withGcVictimUtilization(double v) {
        if (!(v > 0 && v <= 1)) {
            throw new IllegalArgumentException("gc victim utilisation must be in (0, 1], got " + v);
        }
        return new StoreOptions(segmentSize, nodeCacheBytes, commitIntervalMillis, dirtyBytesLimit, readOnly,
                storageFactory, gcIntervalMillis, gcGarbageRatio, v, wipeOnReclaim, maxSizeBytes, intentLog, recycleSegments, metaFill, gcDutyCycle, inlineFlushBytes);
    }

    public StoreOptions withWipeOnReclaim(boolean v) {
        return new StoreOptions(segmentSize, nodeCacheBytes, commitIntervalMillis, dirtyBytesLimit, readOnly,
                storageFactory, gcIntervalMillis, gcGarbageRatio, gcVictimUtilization, v, maxSizeBytes, intentLog, recycleSegments, metaFill, gcDutyCycle, inlineFlushBytes);
    }

    public StoreOptions withMaxSizeBytes(long v) {
        if (v != 0 && v < 8 * segmentSize) {
            throw new IllegalArgumentException("a store limit must be 0 (none) or at least 8 segments ("
                    + 8 * segmentSize + " bytes), got " + v);
        }
        return new StoreOptions(segmentSize, nodeCacheBytes, commitIntervalMillis, dirtyBytesLimit, readOnly,
                storageFactory, gcIntervalMillis, gcGarbageRatio, gcVictimUtilization, wipeOnReclaim, v, intentLog, recycleSegments, metaFill, gcDutyCycle, inlineFlushBytes);
    }

    public StoreOptions withIntentLog(boolean v) {
        return new StoreOptions(segmentSize, nodeCacheBytes, commitIntervalMillis, dirtyBytesLimit, readOnly,
                storageFactory, gcIntervalMillis, gcGarbageRatio, gcVictimUtilization, wipeOnReclaim, maxSizeBytes, v, recycleSegments, metaFill, gcDutyCycle, inlineFlushBytes);
    }

    public StoreOptions withRecycleSegments(int v) {
        if (v < 0) {
            throw new IllegalArgumentException("recycled segments must be 0 or more, got " + v);
        }
        return new StoreOptions(segmentSize, nodeCacheBytes, commitIntervalMillis, dirtyBytesLimit, readOnly,
                storageFactory, gcIntervalMillis, gcGarbageRatio, gcVictimUtilization, wipeOnReclaim, maxSizeBytes,
                intentLog, v, metaFill, gcDutyCycle, inlineFlushBytes);
    }

    public StoreOptions withMetaFill(boolean v) {
        return new StoreOptions(segmentSize, nodeCacheBytes, commitIntervalMillis, dirtyBytesLimit, readOnly,
                storageFactory, gcIntervalMillis, gcGarbageRatio, gcVictimUtilization, wipeOnReclaim, maxSizeBytes,
                intentLog, recycleSegments, v, gcDutyCycle, inlineFlushBytes);
    }

    public StoreOptions withGcDutyCycle(double v) {
        if (!(v > 0 && v <= 1)) {
            throw new IllegalArgumentException("gc duty cycle must be in (0, 1], got " + v);
        }
        return new StoreOptions(segmentSize, nodeCacheBytes, commitIntervalMillis, dirtyBytesLimit, readOnly,
                storageFactory, gcIntervalMillis, gcGarbageRatio, gcVictimUtilization, wipeOnReclaim, maxSizeBytes,
                intentLog, recycleSegments, metaFill, v, inlineFlushBytes);
    }

    public StoreOptions withInlineFlushBytes(long v) {
        if (v < 0 || v > 512 << 10) {
            // an inline op stays well inside one intent record (1 MiB of payload)
            throw new IllegalArgumentException("inline flush bytes must be 0 to 512 KiB, got " + v);
        }
        return new StoreOptions(segmentSize, nodeCacheBytes, commitIntervalMillis, dirtyBytesLimit, readOnly,
                storageFactory, gcIntervalMillis, gcGarbageRatio, gcVictimUtilization, wipeOnReclaim, maxSizeBytes,
                intentLog, recycleSegments, metaFill, gcDutyCycle, v);
    }
}
