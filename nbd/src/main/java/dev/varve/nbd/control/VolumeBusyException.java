package dev.varve.nbd.control;

import dev.varve.engine.VarveException;

/** A revert or destroy refused because NBD clients are connected to what it would change. */
public class VolumeBusyException extends VarveException {
    private static final long serialVersionUID = 1L;

    public VolumeBusyException(String message) {
        super(message);
    }
}
