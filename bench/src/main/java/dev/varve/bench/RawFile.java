package dev.varve.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * The ceiling: a preallocated raw file, no snapshots, no map. Same positional FileChannel I/O
 * and the same {@code force(false)} as the other contenders.
 */
final class RawFile implements BlockIo {
    static final String NAME = "raw";
    private final Path path;
    private final FileChannel ch;

    private RawFile(Path path, FileChannel ch) {
        this.path = path;
        this.ch = ch;
    }

    /** Writes every byte of the file (so no write later allocates) and forces it. */
    static RawFile preallocate(Path path, long size, ByteBuffer pattern) throws IOException {
        FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        RawFile r = new RawFile(path, ch);
        int chunk = pattern.remaining();
        for (long at = 0; at < size; at += chunk) {
            ByteBuffer b = pattern.duplicate();
            b.limit(b.position() + (int) Math.min(chunk, size - at));
            r.write(at, b);
        }
        ch.force(false);
        return r;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        DeltaLayer.writeFully(ch, src, offset);
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        DeltaLayer.readFully(ch, dst, offset);
    }

    @Override
    public void flush() throws IOException {
        ch.force(false);
    }

    @Override
    public List<Path> files() {
        return List.of(path);
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }
}
