package dev.varve.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * The ceiling: a preallocated raw file, no snapshots, no map. Same positional FileChannel I/O
 * and the same {@code force(false)} as the other contenders. {@link #append} gives the plain
 * FileChannel baseline the engine's write targets are set against: a new, empty file written
 * front to back, so every write allocates as a new store's do.
 */
final class RawFile implements BlockIo {
    static final String NAME = "raw";
    static final String APPEND = "append";
    private final Path path;
    private final FileChannel ch;
    private final String name;

    private RawFile(Path path, FileChannel ch, String name) {
        this.path = path;
        this.ch = ch;
        this.name = name;
    }

    /** A new, empty file (nothing preallocated): the plain FileChannel append baseline. */
    static RawFile append(Path path) throws IOException {
        return new RawFile(path, FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE), APPEND);
    }

    /** True for the baselines that hold no snapshots and no map: raw and append. */
    static boolean isBaseline(String contender) {
        return contender.equals(NAME) || contender.equals(APPEND);
    }

    /** Writes every byte of the file (so no write later allocates) and forces it. */
    static RawFile preallocate(Path path, long size, ByteBuffer pattern) throws IOException {
        FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        RawFile r = new RawFile(path, ch, NAME);
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
        return name;
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
