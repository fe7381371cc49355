package dev.varve.engine;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A virtual disk: a writable volume head or a read-only snapshot. Offsets and lengths are
 * in bytes; any offset and length inside the device works (unaligned edges are handled by
 * read-modify-write). Ranges never written, trimmed or zeroed read as zeros and cost
 * nothing on disk.
 */
public interface BlockDevice {

    /** {@code VOLUME} for a volume head, {@code VOLUME@SNAPSHOT} for a snapshot. */
    String name();

    /** Logical size in bytes. */
    long size();

    /** Block size in bytes: a power of two from 512 to 65,536. */
    int blockSize();

    boolean readOnly();

    /** Fills {@code dst} from its position to its limit with the bytes at {@code offset}. */
    void read(long offset, ByteBuffer dst) throws IOException;

    default void read(long offset, byte[] dst, int off, int len) throws IOException {
        read(offset, ByteBuffer.wrap(dst, off, len));
    }

    /** Writes {@code src} from its position to its limit at {@code offset}. */
    void write(long offset, ByteBuffer src) throws IOException;

    default void write(long offset, byte[] src, int off, int len) throws IOException {
        write(offset, ByteBuffer.wrap(src, off, len));
    }

    /** Discards a range: it reads as zeros afterwards and holds no space. */
    void trim(long offset, long length) throws IOException;

    /** Zeroes a range; like {@link #trim}, it leaves a hole. */
    void writeZeroes(long offset, long length) throws IOException;

    /** Makes every write that completed before this call durable (one group commit). */
    void flush() throws IOException;

    /**
     * Visits the allocated (data) and unallocated (hole) runs of {@code [offset, offset+length)}
     * in order; adjacent runs of the same kind are merged. This is what NBD block status and
     * sparse export use.
     */
    void mapAllocation(long offset, long length, AllocationVisitor visitor) throws IOException;

    /** Receives the runs {@link #mapAllocation} finds. */
    @FunctionalInterface
    interface AllocationVisitor {
        void run(long offset, long length, boolean allocated) throws IOException;
    }
}
