package dev.varve.engine;

import dev.varve.engine.btree.TreePointer;
import dev.varve.engine.catalog.CatalogEntry;

import dev.varve.engine.btree.ExtentMap;
import java.io.IOException;
import java.nio.ByteBuffer;

/** A read-only view of a snapshot: its immutable root, readable while the volume runs on. */
final class SnapshotDevice extends MappedDevice {
    private final String name;
    private final long size;

    private final CatalogEntry entry;

    SnapshotDevice(Store store, CatalogEntry entry, String name, long size, int blockSize, ExtentMap map) {
        super(store, blockSize, map);
        this.entry = entry;
        this.name = name;
        this.size = size;
    }

    /** Refuses a destroyed snapshot; follows its tree when the compactor has moved it. */
    @Override
    void checkUsable() throws IOException {
        store.checkOpen();
        if (entry.dropped) {
            throw new NoSuchSnapshotException("snapshot " + name + " was destroyed; its view can no longer be read");
        }
        TreePointer root = entry.root;
        if (!root.equals(map.tree().pointer())) {
            lock.writeLock().lock();
            try {
                map.tree().reset(root);
            } finally {
                lock.writeLock().unlock();
            }
        }
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
