package dev.varve.engine;

/**
 * What {@link Store#receive} made.
 *
 * @param snapshot the received snapshot, {@code VOLUME@SNAP} in this store
 * @param base     for an incremental, the snapshot it was applied onto; null for a full stream
 * @param resumed  true when the stream continued an interrupted receive
 */
public record ReceiveResult(SnapshotInfo snapshot, String base, boolean resumed, long streamBytes, long dataBytes,
                            long holeBytes) {
    public boolean incremental() {
        return base != null;
    }
}
