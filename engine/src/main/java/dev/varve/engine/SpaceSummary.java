package dev.varve.engine;

/**
 * The store's log at a glance, from a mark of the last commit.
 *
 * @param bytesOnDisk  bytes in segment files
 * @param liveBytes    bytes the current volumes, snapshots and catalog reach
 * @param garbageBytes bytes in sealed segments that nothing reaches any more
 * @param reclaimable  bytes a collection would give back now (segments it would empty)
 */
public record SpaceSummary(long bytesOnDisk, long liveBytes, long garbageBytes, long reclaimable) {
}
