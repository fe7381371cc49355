package dev.varve.engine;

/** The store is already open, in this process or another one. */
public class StoreLockedException extends VarveException {
    private static final long serialVersionUID = 1L;

    public StoreLockedException(String message) {
        super(message);
    }

    public StoreLockedException(String message, Throwable cause) {
        super(message, cause);
    }
}
