package dev.varve.engine;

/** An operation on a store (or a volume of it) that has been closed. */
public class StoreClosedException extends VarveException {
    private static final long serialVersionUID = 1L;

    public StoreClosedException(String message) {
        super(message);
    }

    public StoreClosedException(String message, Throwable cause) {
        super(message, cause);
    }
}
