package dev.varve.engine;

/** A volume name that is not in the store's catalog. */
public class NoSuchVolumeException extends VarveException {
    private static final long serialVersionUID = 1L;

    public NoSuchVolumeException(String message) {
        super(message);
    }

    public NoSuchVolumeException(String message, Throwable cause) {
        super(message, cause);
    }
}
