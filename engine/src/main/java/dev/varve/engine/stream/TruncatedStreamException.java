package dev.varve.engine.stream;

/** A send stream that ended, or could no longer be read, before its END frame. */
public final class TruncatedStreamException extends StreamException {
    private static final long serialVersionUID = 1L;

    public TruncatedStreamException(String message) {
        super(message);
    }

    public TruncatedStreamException(String message, Throwable cause) {
        super(message, cause);
    }
}
