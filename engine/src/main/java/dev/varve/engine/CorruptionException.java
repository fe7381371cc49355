package dev.varve.engine;

import java.nio.file.Path;

/**
 * A record or data block that fails its checksum, its header, or a pointer's expectation
 * (kind, generation, length). It names the file and the address, and what was expected and
 * found. Raising it puts the store in read-only mode: Varve never returns bytes it cannot
 * verify, and never writes on top of damage it has seen.
 */
public class CorruptionException extends VarveException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final long address;

    public CorruptionException(Path file, long address, String what) {
        super(describe(file, address, what));
        this.file = file;
        this.address = address;
    }

    public CorruptionException(String message) {
        super(message);
        this.file = null;
        this.address = -1;
    }

    private static String describe(Path file, long address, String what) {
        return "corruption in " + (file == null ? "store" : file) + " at "
                + LogAddress.toString(address) + ": " + what
                + " (the store is now read-only; run 'varve fsck' on it)";
    }

    /** The segment file that holds the damage, or null when not known. */
    public Path file() {
        return file;
    }

    /** The log address of the damaged record, or -1 when not known. */
    public long address() {
        return address;
    }
}
