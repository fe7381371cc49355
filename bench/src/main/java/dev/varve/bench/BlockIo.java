package dev.varve.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;

/** What every contender of an I/O scenario does: positional reads and writes, and a flush. */
interface BlockIo extends AutoCloseable {
    String name();

    void write(long offset, ByteBuffer src) throws IOException;

    void read(long offset, ByteBuffer dst) throws IOException;

    /** Makes completed writes durable. */
    void flush() throws IOException;

    /** The files holding the data, so their page cache can be dropped before a cold read. */
    List<Path> files() throws IOException;

    @Override
    void close() throws IOException;
}
