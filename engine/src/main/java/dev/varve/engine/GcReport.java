package dev.varve.engine;

/**
 * What one collection did.
 *
 * @param segmentsBefore segment files before
 * @param segmentsAfter  segment files after
 * @param segmentsDeleted segment files deleted (dead, or emptied by the compactor)
 * @param bytesBefore    bytes in segment files before
 * @param bytesAfter     bytes in segment files after
 * @param bytesMoved     data bytes the compactor copied to the cold head
 * @param liveBytes      bytes the mark found live (tree nodes, property blobs, data)
 * @param millis         wall time of the pass
 */
public record GcReport(int segmentsBefore, int segmentsAfter, int segmentsDeleted, long bytesBefore,
                       long bytesAfter, long bytesMoved, long liveBytes, long millis) {

    public long bytesReclaimed() {
        return Math.max(0, bytesBefore - bytesAfter);
    }
}
