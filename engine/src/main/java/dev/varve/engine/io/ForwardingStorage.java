package dev.varve.engine.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A storage that passes every call to another; a subclass overrides only what it changes (a
 * read-only view, a storage that fails or records some operations). {@link #open} wraps each
 * file with {@link #wrap}, which by default returns the file itself.
 */
public abstract class ForwardingStorage implements Storage {
    protected final Storage delegate;

    protected ForwardingStorage(Storage delegate) {
        this.delegate = delegate;
    }

    /** The file {@link #open} returns for {@code f}, opened under {@code name}. */
    protected StorageFile wrap(String name, StorageFile f) throws IOException {
        return f;
    }

    @Override
    public StorageFile open(String name, boolean create) throws IOException {
        return wrap(name, delegate.open(name, create));
    }

    @Override
    public boolean exists(String name) throws IOException {
        return delegate.exists(name);
    }

    @Override
    public List<String> list() throws IOException {
        return delegate.list();
    }

    @Override
    public void delete(String name) throws IOException {
        delegate.delete(name);
    }

    @Override
    public void rename(String from, String to) throws IOException {
        delegate.rename(from, to);
    }

    @Override
    public void syncDirectory() throws IOException {
        delegate.syncDirectory();
    }

    @Override
    public Closeable tryLock(String name) throws IOException {
        return delegate.tryLock(name);
    }

    @Override
    public Path path(String name) {
        return delegate.path(name);
    }

    @Override
    public Path root() {
        return delegate.root();
    }

    @Override
    public boolean rootExists() {
        return delegate.rootExists();
    }

    @Override
    public void createRoot() throws IOException {
        delegate.createRoot();
    }

    /** A file that passes every call to another; a subclass overrides only what it changes. */
    public abstract static class File implements StorageFile {
        protected final StorageFile delegate;

        protected File(StorageFile delegate) {
            this.delegate = delegate;
        }

        @Override
        public int read(java.nio.ByteBuffer dst, long position) throws IOException {
            return delegate.read(dst, position);
        }

        @Override
        public void write(java.nio.ByteBuffer src, long position) throws IOException {
            delegate.write(src, position);
        }

        @Override
        public void force() throws IOException {
            delegate.force();
        }

        @Override
        public long size() throws IOException {
            return delegate.size();
        }

        @Override
        public void truncate(long size) throws IOException {
            delegate.truncate(size);
        }

        @Override
        public Path path() {
            return delegate.path();
        }

        @Override
        public void close() throws IOException {
            delegate.close();
        }
    }
}
