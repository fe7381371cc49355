package dev.varve.fsck;

import dev.varve.engine.io.Storage;
import dev.varve.engine.io.StorageFile;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * A store directory opened for reading only: what a check uses, so that it cannot change a
 * byte of the store whatever it finds, and works on a store the user may only read. Every
 * write refuses.
 */
final class ReadOnlyStorage implements Storage {
    private final Path dir;

    ReadOnlyStorage(Path dir) {
        this.dir = dir.toAbsolutePath().normalize();
    }

    @Override
    public StorageFile open(String name, boolean create) throws IOException {
        Path p = dir.resolve(name);
        if (create && !Files.exists(p)) {
            throw refused(p);
        }
        return new ReadOnlyFile(p, FileChannel.open(p, StandardOpenOption.READ));
    }

    private static IOException refused(Path p) {
        return new AccessDeniedException(p.toString(), null, "fsck opened the store read-only");
    }

    @Override
    public boolean exists(String name) {
        return Files.exists(dir.resolve(name));
    }

    @Override
    public List<String> list() throws IOException {
        List<String> names = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.forEach(p -> names.add(p.getFileName().toString()));
        }
        return names;
    }

    @Override
    public void delete(String name) throws IOException {
        throw refused(dir.resolve(name));
    }

    @Override
    public void syncDirectory() throws IOException {
        throw refused(dir);
    }

    @Override
    public Closeable tryLock(String name) throws IOException {
        throw refused(dir.resolve(name));
    }

    @Override
    public Path path(String name) {
        return dir.resolve(name);
    }

    @Override
    public Path root() {
        return dir;
    }

    @Override
    public boolean rootExists() {
        return Files.isDirectory(dir);
    }

    @Override
    public void createRoot() throws IOException {
        throw refused(dir);
    }

    private static final class ReadOnlyFile implements StorageFile {
        private final Path path;
        private final FileChannel ch;

        ReadOnlyFile(Path path, FileChannel ch) {
            this.path = path;
            this.ch = ch;
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            int total = 0;
            while (dst.hasRemaining()) {
                int n = ch.read(dst, position + total);
                if (n < 0) {
                    break;
                }
                total += n;
            }
            return total;
        }

        @Override
        public void write(ByteBuffer src, long position) throws IOException {
            throw refused(path);
        }

        @Override
        public void force() throws IOException {
            throw refused(path);
        }

        @Override
        public long size() throws IOException {
            return ch.size();
        }

        @Override
        public void truncate(long size) throws IOException {
            throw refused(path);
        }

        @Override
        public Path path() {
            return path;
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }
}
