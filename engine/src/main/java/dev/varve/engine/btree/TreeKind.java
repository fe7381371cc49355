package dev.varve.engine.btree;

import dev.varve.engine.format.RecordLayout;

/**
 * The two kinds of tree in a store, each with its record types and fan-out.
 *
 * <p>An extent leaf is bounded by its encoded bytes, as btrfs bounds a leaf by its node size:
 * it holds as many extents as fit in the bytes of 64 full ones (about 18 KiB), so 64 extents
 * of 64 blocks or several hundred of one block. The bytes a leaf needs follow the blocks it
 * maps (each carries its CRC), so a map split into small extents by overwrites has about as
 * many leaves, and as many levels, as the same blocks written in long runs: reads on a head
 * fragmented by a thousand snapshots' overwrites descend as far as on a fresh disk.
 *
 * <p>The catalog's nodes are kept small (16-entry leaves, 32-entry interiors) because every
 * snapshot rewrites two of its paths: with 100,000 snapshots a snapshot still appends only a
 * few KiB. Fan-out is not part of the format: any count a node holds decodes.
 */
public enum TreeKind {
    EXTENTS(RecordLayout.TYPE_EXTENT_LEAF, RecordLayout.TYPE_EXTENT_INTERIOR, 1024,
            Node.PREFIX_BYTES + 64 * (8 + Extent.FIXED_BYTES + 4 * Extent.MAX_BLOCKS), 128),
    CATALOG(RecordLayout.TYPE_CATALOG_LEAF, RecordLayout.TYPE_CATALOG_INTERIOR, 16, Integer.MAX_VALUE, 32);

    public final byte leafType;
    public final byte interiorType;
    /** Most entries in a leaf. */
    public final int maxLeaf;
    /** Most payload bytes in a leaf (a leaf of one entry may exceed it). */
    public final int maxLeafBytes;
    public final int maxInterior;

    TreeKind(byte leafType, byte interiorType, int maxLeaf, int maxLeafBytes, int maxInterior) {
        this.leafType = leafType;
        this.interiorType = interiorType;
        this.maxLeaf = maxLeaf;
        this.maxLeafBytes = maxLeafBytes;
        this.maxInterior = maxInterior;
    }

    /** True when a leaf of {@code count} entries and {@code bytes} payload bytes must split. */
    boolean leafOverfull(int count, int bytes) {
        return count > maxLeaf || (bytes > maxLeafBytes && count > 1);
    }

    /** True when a leaf has fallen below a quarter of its bounds and should join a neighbour. */
    boolean leafUnderfull(int count, int bytes) {
        return maxLeafBytes == Integer.MAX_VALUE ? count < maxLeaf / 4 : bytes < maxLeafBytes / 4;
    }
}
