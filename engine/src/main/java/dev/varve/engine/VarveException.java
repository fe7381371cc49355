package dev.varve.engine;

/** Base of every checked error Varve raises; the message says what, where, and what to do. */
public class VarveException extends java.io.IOException {
    private static final long serialVersionUID = 1L;

    public VarveException(String message) {
        super(message);
    }

    public VarveException(String message, Throwable cause) {
        super(message, cause);
    }
}
