package dev.varve.engine.btree;

import dev.varve.engine.format.RecordLayout;

/** The two kinds of tree in a store, each with its record types and fan-out. */
public enum TreeKind {
    EXTENTS(RecordLayout.TYPE_EXTENT_LEAF, RecordLayout.TYPE_EXTENT_INTERIOR, 64, 128),
    CATALOG(RecordLayout.TYPE_CATALOG_LEAF, RecordLayout.TYPE_CATALOG_INTERIOR, 64, 128);

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
