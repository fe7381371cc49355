package dev.varve.engine;

/** Destroying a volume that still has snapshots, without asking for a recursive destroy. */
public class HasSnapshotsException extends VarveException {
    private static final long serialVersionUID = 1L;

    public HasSnapshotsException(String message) {
        super(message);
    }

    public HasSnapshotsException(String message, Throwable cause) {
        super(message, cause);
    }
}
