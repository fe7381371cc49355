package dev.varve.engine;

/** The disk (or the store's size limit) is full; the store still opens at its last commit. */
public class OutOfSpaceException extends VarveException {
    private static final long serialVersionUID = 1L;

    public OutOfSpaceException(String message) {
        super(message);
    }

    public OutOfSpaceException(String message, Throwable cause) {
        super(message, cause);
    }
}
