package dev.varve.engine;

/** A directory that does not hold a Varve store. */
public class NotAStoreException extends VarveException {
    private static final long serialVersionUID = 1L;

    public NotAStoreException(String message) {
        super(message);
    }

    public NotAStoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
