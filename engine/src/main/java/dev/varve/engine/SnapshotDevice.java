package dev.varve.engine;

import dev.varve.engine.btree.ExtentMap;
import java.io.IOException;
import java.nio.ByteBuffer;

/** A read-only view of a snapshot: its immutable root, readable while the volume runs on. */
final class SnapshotDevice extends MappedDevice {
    private final String name;
    private final long size;

    SnapshotDevice(Store store, String name, long size, int blockSize, ExtentMap map) {
        super(store, blockSize, map);
        this.name = name;
        this.size = size;
    }

    @Override
    void checkUsable() throws IOException {
        store.checkOpen();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean readOnly() {
        return true;
    }

    private ReadOnlyException refuse() {
        return new ReadOnlyException(name + " is a snapshot and cannot be written; clone it to get a writable volume");
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        throw refuse();
    }

    @Override
    public void trim(long offset, long length) throws IOException {
        throw refuse();
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        throw refuse();
    }

    @Override
    public void flush() {
        // nothing to make durable: a snapshot never changes
    }
}
