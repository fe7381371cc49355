package dev.varve.engine;

import dev.varve.engine.btree.TreePointer;

/**
 * A clean extent-map root as the catalog holds it: a snapshot's, or a volume head's as of its
 * last commit. Diff and send walk these, never a head's dirty in-memory tree.
 *
 * @param name {@code VOLUME} or {@code VOLUME@SNAP}
 * @param bornAfter when this root and another were asked for together and this tree descends
 *     from the other (a snapshot in its history) with no block unmapped since: the other's
 *     generation, so the blocks the two map differently are those this tree maps with a birth
 *     after it. Otherwise -1.
 */
record CommittedRoot(String name, TreePointer root, long size, int blockSize, long bornAfter) {
}
