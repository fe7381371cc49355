package dev.varve.engine.btree;

import java.io.IOException;

/** Loads clean nodes by pointer (through the cache); verifies kind, length and generation. */
public interface NodeSource {
    <V> Node<V> load(TreeKind kind, ValueCodec<V> codec, long address, int length, long generation) throws IOException;

    /** A tree made a node dirty (a copy on a path, a new root, a split): it stays in memory until written. */
    default void dirtied() {
    }
}
