package dev.varve.engine;

/** Destroying a snapshot that a send is reading (as ZFS refuses to destroy a busy dataset). */
public class SnapshotBusyException extends VarveException {
    private static final long serialVersionUID = 1L;

    public SnapshotBusyException(String message) {
        super(message);
    }
}
