package dev.varve.engine.btree;

import dev.varve.engine.format.RecordLayout;

/**
 * The two kinds of tree in a store, each with its record types and fan-out. The catalog's
 * nodes are kept small (about 1.6 KiB leaves, 1.2 KiB interiors) because every snapshot
 * rewrites two of its paths: with 100,000 snapshots a snapshot still appends only a few KiB.
 * Fan-out is not part of the format: any count a node holds decodes.
 */
public enum TreeKind {
    EXTENTS(RecordLayout.TYPE_EXTENT_LEAF, RecordLayout.TYPE_EXTENT_INTERIOR, 64, 128),
    CATALOG(RecordLayout.TYPE_CATALOG_LEAF, RecordLayout.TYPE_CATALOG_INTERIOR, 16, 32);

    public final byte leafType;
    public final byte interiorType;
    public final int maxLeaf;
    public final int maxInterior;

    TreeKind(byte leafType, byte interiorType, int maxLeaf, int maxInterior) {
        this.leafType = leafType;
        this.interiorType = interiorType;
        this.maxLeaf = maxLeaf;
        this.maxInterior = maxInterior;
    }
}
