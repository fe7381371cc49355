package dev.varve.engine;

/** A write to a read-only device: a snapshot, or a store opened read-only. */
public class ReadOnlyException extends VarveException {
    private static final long serialVersionUID = 1L;

    public ReadOnlyException(String message) {
        super(message);
    }

    public ReadOnlyException(String message, Throwable cause) {
        super(message, cause);
    }
}
