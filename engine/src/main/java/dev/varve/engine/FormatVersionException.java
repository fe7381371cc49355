package dev.varve.engine;

/** A store written by a newer (or unsupported older) format version. */
public class FormatVersionException extends VarveException {
    private static final long serialVersionUID = 1L;

    public FormatVersionException(String message) {
        super(message);
    }

    public FormatVersionException(String message, Throwable cause) {
        super(message, cause);
    }
}
