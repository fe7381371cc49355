package dev.varve.nbd;

import dev.varve.engine.BlockDevice;

/**
 * A device as clients reach it: a volume head by its name, or a snapshot as {@code VOLUME@SNAP}.
 *
 * @param name        the export name clients ask for
 * @param volume      the volume it belongs to (itself for a head)
 * @param device      the engine device
 * @param readOnly    true for snapshots, a read-only server, or a read-only store
 * @param description one line for {@code nbdinfo --list}
 */
record Export(String name, String volume, BlockDevice device, boolean readOnly, String description) {

    boolean isSnapshot() {
        return !name.equals(volume);
    }

    /** The transmission flags this export is offered with. */
    int transmissionFlags(boolean structuredReplies) {
        int f = NbdProtocol.FLAG_HAS_FLAGS | NbdProtocol.FLAG_SEND_FLUSH | NbdProtocol.FLAG_SEND_FUA
                // one store-wide commit makes every connection's acknowledged writes durable
                | NbdProtocol.FLAG_CAN_MULTI_CONN;
        if (readOnly) {
            f |= NbdProtocol.FLAG_READ_ONLY;
        } else {
            f |= NbdProtocol.FLAG_SEND_TRIM | NbdProtocol.FLAG_SEND_WRITE_ZEROES | NbdProtocol.FLAG_SEND_FAST_ZERO;
        }
        if (structuredReplies) {
            f |= NbdProtocol.FLAG_SEND_DF;
        }
        return f;
    }
}
