package dev.varve.nbd.control;

import java.io.IOException;

/** The running server failed a control request for a reason with no engine exception type. */
public class ControlException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String remoteType;

    public ControlException(String remoteType, String message) {
        super(message);
        this.remoteType = remoteType;
    }

    /** The simple class name of the exception the server raised, or null. */
    public String remoteType() {
        return remoteType;
    }
}
