package dev.varve.engine.stream;

/** A valid send stream that does not apply here: an incremental whose base snapshot the volume does not have, a block size that differs, a resumed stream that does not continue the interrupted receive. */
public final class StreamMismatchException extends StreamException {
    private static final long serialVersionUID = 1L;

    public StreamMismatchException(String message) {
        super(message);
    }

    public StreamMismatchException(String message, Throwable cause) {
        super(message, cause);
    }
}
