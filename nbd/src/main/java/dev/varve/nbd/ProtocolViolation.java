package dev.varve.nbd;

import java.io.IOException;

/** The client broke the protocol in a way that ends the connection (bad magic, unknown flags). */
final class ProtocolViolation extends IOException {
    private static final long serialVersionUID = 1L;

    ProtocolViolation(String message) {
        super(message);
    }
}
