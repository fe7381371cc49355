package dev.varve.engine.stream;

/** A send stream written in a format version this Varve does not read (too new or too old). */
public final class StreamVersionException extends StreamException {
    private static final long serialVersionUID = 1L;

    public StreamVersionException(String message) {
        super(message);
    }

    public StreamVersionException(String message, Throwable cause) {
        super(message, cause);
    }
}
