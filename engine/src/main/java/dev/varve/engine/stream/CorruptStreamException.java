package dev.varve.engine.stream;

/** A send stream that fails a check: a frame checksum, the frame sequence, the framing, or the whole-stream checksum in its trailer; or bytes that are not a send stream at all. */
public final class CorruptStreamException extends StreamException {
    private static final long serialVersionUID = 1L;

    public CorruptStreamException(String message) {
        super(message);
    }

    public CorruptStreamException(String message, Throwable cause) {
        super(message, cause);
    }
}
