package dev.varve.engine.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** The storage Varve ships: a directory of files, positional {@link FileChannel} I/O. */
public final class FileStorage implements Storage {
    private final Path dir;
    private final boolean readOnly;

    public FileStorage(Path dir) {
        this(dir, false);
    }

    private FileStorage(Path dir, boolean readOnly) {
        this.dir = dir.toAbsolutePath().normalize();
        this.readOnly = readOnly;
    }

    /**
     * The directory opened for reading only (fsck's check mode): files are opened without write
     * access and every change refuses, so nothing can alter a byte whatever the caller does, and
     * a store the user may only read can be checked.
     */
    public static FileStorage readOnly(Path dir) {
        return new FileStorage(dir, true);
    }

    private IOException refused(Path p) {
        return new java.nio.file.AccessDeniedException(p.toString(), null, "the store was opened read-only");
    }

    private void checkWritable(Path p) throws IOException {
        if (readOnly) {
            throw refused(p);
        }
    }

    @Override
    public StorageFile open(String name, boolean create) throws IOException {
        Path p = dir.resolve(name);
        if (readOnly) {
            if (create && !Files.exists(p)) {
                throw refused(p);
            }
            return new ChannelFile(p, FileChannel.open(p, StandardOpenOption.READ));
        }
        FileChannel ch = create
                ? FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE, StandardOpenOption.CREATE)
                : FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE);
        return new ChannelFile(p, ch);
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
        checkWritable(dir.resolve(name));
        try {
            Files.delete(dir.resolve(name));
        } catch (NoSuchFileException ignored) {
            // already gone: deleting is idempotent
        }
    }

    @Override
    public void rename(String from, String to) throws IOException {
        checkWritable(dir.resolve(from));
        Files.move(dir.resolve(from), dir.resolve(to), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    @Override
    public void syncDirectory() throws IOException {
        checkWritable(dir);
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    @Override
    public Closeable tryLock(String name) throws IOException {
        checkWritable(dir.resolve(name));
        FileChannel ch = FileChannel.open(dir.resolve(name), StandardOpenOption.READ,
                StandardOpenOption.WRITE, StandardOpenOption.CREATE);
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            ch.close();
            return null;
        }
        ch.truncate(0);
        ch.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes()), 0);
        FileLock held = lock;
        return () -> {
            held.release();
            ch.close();
        };
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
        checkWritable(dir);
        Files.createDirectories(dir);
    }

    private final class ChannelFile implements StorageFile {
        private final Path path;
        private final FileChannel ch;

        ChannelFile(Path path, FileChannel ch) {
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
            checkWritable(path);
            long pos = position;
            while (src.hasRemaining()) {
                pos += ch.write(src, pos);
            }
        }

        @Override
        public void force() throws IOException {
            checkWritable(path);
            ch.force(false);
        }

        @Override
        public long size() throws IOException {
            return ch.size();
        }

        @Override
        public void truncate(long size) throws IOException {
            checkWritable(path);
            ch.truncate(size);
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
