package dev.varve.engine;

/** A volume or snapshot name that is already taken. */
public class NameExistsException extends VarveException {
    private static final long serialVersionUID = 1L;

    public NameExistsException(String message) {
        super(message);
    }

    public NameExistsException(String message, Throwable cause) {
        super(message, cause);
    }
}
