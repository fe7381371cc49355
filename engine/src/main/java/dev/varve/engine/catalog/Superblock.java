package dev.varve.engine.catalog;

import dev.varve.engine.FormatVersionException;
import dev.varve.engine.NotAStoreException;
import dev.varve.engine.format.FormatVersion;
import dev.varve.engine.format.SuperblockLayout;
import dev.varve.engine.io.Storage;
import dev.varve.engine.io.StorageFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * One superblock copy: the store's identity and a recent durable commit to roll forward from.
 */
public record Superblock(int format, long sequence, long uuidHi, long uuidLo, long segmentSize,
                         long commitAddress, int commitLength, long generation, int maxSegments) {

    /** A superblock with no size limit. */
    public Superblock(int format, long sequence, long uuidHi, long uuidLo, long segmentSize,
                      long commitAddress, int commitLength, long generation) {
        this(format, sequence, uuidHi, uuidLo, segmentSize, commitAddress, commitLength, generation, 0);
    }

    public static ByteBuffer encode(Superblock sb) {
        ByteBuffer b = ByteBuffer.allocate(SuperblockLayout.SLOT_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(SuperblockLayout.MAGIC_OFFSET, SuperblockLayout.MAGIC);
        b.putInt(SuperblockLayout.FORMAT_OFFSET, sb.format);
        b.putInt(SuperblockLayout.MAX_SEGMENTS_OFFSET, sb.maxSegments);
        b.putLong(SuperblockLayout.SEQUENCE_OFFSET, sb.sequence);
        b.putLong(SuperblockLayout.UUID_OFFSET, sb.uuidHi);
        b.putLong(SuperblockLayout.UUID_OFFSET + 8, sb.uuidLo);
        b.putLong(SuperblockLayout.SEGMENT_SIZE_OFFSET, sb.segmentSize);
        b.putLong(SuperblockLayout.COMMIT_OFFSET, sb.commitAddress);
        b.putLong(SuperblockLayout.GENERATION_OFFSET, sb.generation);
        b.putInt(SuperblockLayout.COMMIT_LEN_OFFSET, sb.commitLength);
        b.putInt(SuperblockLayout.CRC_OFFSET, crc(b));
        return b;
    }

    private static int crc(ByteBuffer b) {
        CRC32C c = new CRC32C();
        c.update(b.duplicate().position(0).limit(SuperblockLayout.CRC_OFFSET));
        return (int) c.getValue();
    }

    /** Decodes a slot; null when it is not a valid superblock (torn, zero, damaged). */
    public static Superblock decode(ByteBuffer b) {
        if (b.limit() < SuperblockLayout.SLOT_BYTES || b.getLong(SuperblockLayout.MAGIC_OFFSET) != SuperblockLayout.MAGIC
                || b.getInt(SuperblockLayout.CRC_OFFSET) != crc(b)) {
            return null;
        }
        return new Superblock(b.getInt(SuperblockLayout.FORMAT_OFFSET), b.getLong(SuperblockLayout.SEQUENCE_OFFSET),
                b.getLong(SuperblockLayout.UUID_OFFSET), b.getLong(SuperblockLayout.UUID_OFFSET + 8),
                b.getLong(SuperblockLayout.SEGMENT_SIZE_OFFSET), b.getLong(SuperblockLayout.COMMIT_OFFSET),
                b.getInt(SuperblockLayout.COMMIT_LEN_OFFSET), b.getLong(SuperblockLayout.GENERATION_OFFSET),
                b.getInt(SuperblockLayout.MAX_SEGMENTS_OFFSET));
    }

    /** Both slots, decoded (null for an invalid one). */
    public static Superblock[] readSlots(StorageFile f) throws IOException {
        Superblock[] out = new Superblock[SuperblockLayout.SLOTS];
        for (int i = 0; i < SuperblockLayout.SLOTS; i++) {
            ByteBuffer b = ByteBuffer.allocate(SuperblockLayout.SLOT_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            int n = f.read(b, (long) i * SuperblockLayout.SLOT_BYTES);
            b.flip();
            out[i] = n == SuperblockLayout.SLOT_BYTES ? decode(b.limit(SuperblockLayout.SLOT_BYTES)) : null;
        }
        return out;
    }

    /** The newest valid copy; refuses a directory that is not a store and a newer format. */
    public static Superblock readNewest(Storage storage) throws IOException {
        if (!storage.exists(SuperblockLayout.FILE_NAME)) {
            throw new NotAStoreException(storage.root() + " is not a Varve store (no " + SuperblockLayout.FILE_NAME
                    + "); create one with 'varve init " + storage.root() + "'");
        }
        Superblock best = null;
        try (StorageFile f = storage.open(SuperblockLayout.FILE_NAME, false)) {
            for (Superblock s : readSlots(f)) {
                if (s != null && (best == null || s.sequence > best.sequence)) {
                    best = s;
                }
            }
        }
        if (best == null) {
            throw new NotAStoreException(storage.path(SuperblockLayout.FILE_NAME)
                    + ": both superblock copies are damaged; run 'varve fsck --repair' on the store");
        }
        if (best.format > FormatVersion.CURRENT) {
            throw new FormatVersionException(storage.root() + " has format version " + best.format
                    + ", newer than this Varve understands (" + FormatVersion.CURRENT + "); upgrade Varve to open it");
        }
        if (best.format < FormatVersion.OLDEST_READABLE) {
            throw new FormatVersionException(storage.root() + " has format version " + best.format
                    + ", older than this Varve can read (" + FormatVersion.OLDEST_READABLE + ")");
        }
        return best;
    }

    /** Writes this copy into its slot (sequence mod 2) and forces it. */
    public void write(StorageFile f) throws IOException {
        f.write(encode(this), (sequence % SuperblockLayout.SLOTS) * SuperblockLayout.SLOT_BYTES);
        f.force();
    }
}
