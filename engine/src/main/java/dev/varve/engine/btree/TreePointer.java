package dev.varve.engine.btree;

import dev.varve.engine.LogAddress;

/** A pointer to a clean tree root: its address, record length and generation. */
public record TreePointer(long address, int length, long generation) {
    public static final TreePointer EMPTY = new TreePointer(LogAddress.NONE, 0, 0);

    public boolean isEmpty() {
        return address == LogAddress.NONE;
    }
}
