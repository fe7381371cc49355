package dev.varve.engine;

/**
 * A position in the log packed in one {@code long}:
 * <pre>
 *   63                32 31                 0
 *  +--------------------+--------------------+
 *  |  segment id (u32)  |  byte offset (u32) |
 *  +--------------------+--------------------+
 * </pre>
 * Segment ids start at 1, so 0 is never a valid address and stands for "none" (an empty
 * tree, a hole). Offsets are bytes from the start of the segment file, so a segment can be
 * at most 4 GiB.
 */
public final class LogAddress {
    public static final long NONE = 0L;

    private LogAddress() {
    }

    public static long of(long segment, long offset) {
        if (segment <= 0 || segment > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("segment id out of range: " + segment);
        }
        if (offset < 0 || offset > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("segment offset out of range: " + offset);
        }
        return (segment << 32) | offset;
    }

    public static long segment(long address) {
        return address >>> 32;
    }

    public static long offset(long address) {
        return address & 0xFFFF_FFFFL;
    }

    public static String toString(long address) {
        if (address == NONE) {
            return "none";
        }
        return "segment " + segment(address) + " offset " + offset(address);
    }
}
