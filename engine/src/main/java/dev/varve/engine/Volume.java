package dev.varve.engine;

import java.io.IOException;
import java.nio.ByteBuffer;

/** STUB */
public final class Volume implements BlockDevice {
    public String name() { throw new UnsupportedOperationException(); }
    public long size() { throw new UnsupportedOperationException(); }
    public int blockSize() { throw new UnsupportedOperationException(); }
    public boolean readOnly() { return false; }
    public void read(long offset, ByteBuffer dst) throws IOException { throw new UnsupportedOperationException(); }
    public void write(long offset, ByteBuffer src) throws IOException { throw new UnsupportedOperationException(); }
    public void trim(long offset, long length) throws IOException { throw new UnsupportedOperationException(); }
    public void writeZeroes(long offset, long length) throws IOException { throw new UnsupportedOperationException(); }
    public void flush() throws IOException { throw new UnsupportedOperationException(); }
    public void mapAllocation(long offset, long length, AllocationVisitor visitor) throws IOException { throw new UnsupportedOperationException(); }
    /** Grows or shrinks the volume; shrinking discards what lies past the new end. */
    public void resize(long newSize) throws IOException { throw new UnsupportedOperationException(); }
}
