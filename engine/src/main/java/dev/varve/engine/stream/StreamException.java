package dev.varve.engine.stream;

import dev.varve.engine.VarveException;

/**
 * A send stream that cannot be received. Unlike a {@link dev.varve.engine.CorruptionException}
 * it says nothing about the store: the receiving store stays as it was.
 */
public class StreamException extends VarveException {
    private static final long serialVersionUID = 1L;

    public StreamException(String message) {
        super(message);
    }

    public StreamException(String message, Throwable cause) {
        super(message, cause);
    }
}
