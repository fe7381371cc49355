package dev.varve.engine;

import java.util.UUID;

/**
 * What {@link Store#send} wrote.
 *
 * @param streamBytes every byte of the stream, framing included
 * @param dataBytes   bytes of volume data carried
 * @param holeBytes   bytes the stream turns into holes (an incremental's trims)
 * @param baseGuid    the base snapshot's identity, or null for a full stream
 */
public record SendResult(String snapshot, String base, UUID snapshotGuid, UUID baseGuid, long streamBytes,
                         long dataBytes, long holeBytes, long frames) {
    public boolean incremental() {
        return baseGuid != null;
    }
}
