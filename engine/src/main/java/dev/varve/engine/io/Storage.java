package dev.varve.engine.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The only way the engine touches files: a flat directory of named files. The real one is
 * {@link FileStorage}; tests put a crashable or faulty storage here to lose unsynced writes,
 * tear writes and fail the n-th operation.
 */
public interface Storage {

    /** Opens an existing file, or creates it when {@code create} is set and it is missing. */
    StorageFile open(String name, boolean create) throws IOException;

    boolean exists(String name) throws IOException;

    /** Names of every file in the directory. */
    List<String> list() throws IOException;

    void delete(String name) throws IOException;

    /**
     * Renames a file, replacing nothing: {@code to} must not exist. Atomic; durable with the
     * next {@link #syncDirectory()}. No handle to the file may be open.
     */
    void rename(String from, String to) throws IOException;

    /** Makes created and deleted names durable (fsync of the directory). */
    void syncDirectory() throws IOException;

    /**
     * Takes the exclusive lock that keeps a second process (or a second open in this process)
     * from opening the same store.
     *
     * @return the lock, released by closing it, or null when another holder has it
     */
    Closeable tryLock(String name) throws IOException;

    /** The path a file would have, for error messages. */
    Path path(String name);

    /** The directory the storage stands for. */
    Path root();

    /** True when the directory exists. */
    boolean rootExists();

    /** Creates the directory (and its parents) if missing. */
    void createRoot() throws IOException;
}
