package dev.varve.engine;

/** A write or fsync failed earlier: the store refuses further writes and flushes until it is reopened. */
public class StoreFailedException extends VarveException {
    private static final long serialVersionUID = 1L;

    public StoreFailedException(String message) {
        super(message);
    }

    public StoreFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
