package dev.varve.engine.log;

import dev.varve.engine.btree.TreePointer;

/** A commit record as read back or written: what the store opens to. */
public record CommitInfo(long address, int length, long generation, long previous, TreePointer catalogRoot,
                         long nextId, long timeMillis) {
}
