package dev.varve.engine;

import dev.varve.engine.btree.TreePointer;

/**
 * A clean extent-map root as the catalog holds it: a snapshot's, or a volume head's as of its
 * last commit. Diff and send walk these, never a head's dirty in-memory tree.
 *
 * @param name {@code VOLUME} or {@code VOLUME@SNAP}
 */
record CommittedRoot(String name, TreePointer root, long size, int blockSize) {
}
