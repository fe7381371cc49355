package dev.varve.engine.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/** One file of a {@link Storage}: positional reads and writes, fsync, size. */
public interface StorageFile extends Closeable {

    /**
     * Reads until {@code dst} is full or the end of the file is reached.
     *
     * @return the number of bytes read
     */
    int read(ByteBuffer dst, long position) throws IOException;

    /** Writes all of {@code src} at {@code position}. */
    void write(ByteBuffer src, long position) throws IOException;

    /** Makes every write to this file durable. */
    void force() throws IOException;

    long size() throws IOException;

    void truncate(long size) throws IOException;

    Path path();

    @Override
    void close() throws IOException;
}
