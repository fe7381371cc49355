package dev.varve.engine.btree;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/** How a tree's leaf values are encoded into a node record and read back. */
public interface ValueCodec<V> {

    int encodedLength(V value);

    /** Writes the value at {@code offset}; returns the bytes written. */
    int encode(V value, MutableDirectBuffer buf, int offset);

    /** Reads a value at {@code offset}; {@code lengthOut[0]} receives the bytes read. */
    V decode(DirectBuffer buf, int offset, int[] lengthOut);

    /** The lowest segment id this value points into (for compaction skipping), or MAX_VALUE. */
    default long minSegment(V value) {
        return Long.MAX_VALUE;
    }
}
