package dev.varve.engine;

/** A snapshot name that is not in the store's catalog. */
public class NoSuchSnapshotException extends VarveException {
    private static final long serialVersionUID = 1L;

    public NoSuchSnapshotException(String message) {
        super(message);
    }

    public NoSuchSnapshotException(String message, Throwable cause) {
        super(message, cause);
    }
}
