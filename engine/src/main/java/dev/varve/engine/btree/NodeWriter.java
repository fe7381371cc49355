package dev.varve.engine.btree;

import java.io.IOException;
import org.agrona.MutableDirectBuffer;

/** Where a commit writes dirty nodes: appends records to the log's meta head. */
public interface NodeWriter {

    /** Writes a payload of exactly the declared length at {@code offset} in {@code buf}. */
    @FunctionalInterface
    interface PayloadEncoder {
        void encode(MutableDirectBuffer buf, int offset);
    }

    /** Appends a record of the open transaction group; returns its address. */
    long append(byte type, long owner, int payloadLength, PayloadEncoder encoder) throws IOException;

    /** The generation of the transaction group being written. */
    long generation();

    /** Called once a node has its address, so readers find it until its bytes are on disk. */
    void written(Node<?> node);
}
